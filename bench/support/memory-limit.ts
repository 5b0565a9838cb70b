/**
 * Runs a benchmarked controller or gateway under the memory limit its pod gets from the Helm
 * chart (`<component>.resources.limits.memory` in charts/tunnelkeeper/values.yaml), in a memory
 * cgroup of its own, as the kubelet runs the container.
 *
 * Why: Node.js sizes V8's heap from the cgroup's limit. Under the chart's 512 MiB a process gets
 * `heap_size_limit` 259 MiB and a 1 MiB young generation; unconstrained on this 24 GiB machine it
 * gets 4.2 GiB and 16 MiB semi-spaces, and lets garbage pile up to match: a gateway holding
 * 10,000 connections peaked at 427 MiB RSS that way and at about 260 MiB under the limit
 * (docs/benchmarks.md, "Lean processes"). A benchmark without the limit measures a heap policy
 * no installed pod has.
 *
 * The cgroup is `tunnelkeeper-bench-<pid>-<n>` under the memory hierarchy (v1 `memory/`, or the
 * v2 root when it delegates `memory`), made before the process starts (V8 reads the limit once,
 * at start) and removed when it exits. Without a memory controller the process runs without a
 * limit and `limitBytes` is null, so the report says so.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const VALUES = join(import.meta.dirname, "..", "..", "charts", "tunnelkeeper", "values.yaml");
const CGROUP_ROOT = "/sys/fs/cgroup";

const UNITS: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9, "": 1 };

/** A Kubernetes memory quantity (`512Mi`, `1G`, `268435456`) in bytes. */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity.trim());
  if (match === null) throw new Error(`"${quantity}" is not a memory quantity this benchmark reads (e.g. 512Mi)`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? ""]!);
}

/** The chart's default memory limit of `component`'s container, in bytes. */
export function chartMemoryLimitBytes(component: "controller" | "gateway"): number {
  const values = parse(readFileSync(VALUES, "utf8")) as Record<string, { resources?: { limits?: { memory?: string } } }>;
  const limit = values[component]?.resources?.limits?.memory;
  if (limit === undefined) throw new Error(`charts/tunnelkeeper/values.yaml sets no ${component}.resources.limits.memory`);
  return quantityBytes(limit);
}

interface Hierarchy {
  readonly dir: string;
  readonly limitFile: string;
}

function memoryHierarchy(): Hierarchy | undefined {
  const v1 = join(CGROUP_ROOT, "memory");
  if (existsSync(join(v1, "memory.limit_in_bytes"))) return { dir: v1, limitFile: "memory.limit_in_bytes" };
  const controllers = join(CGROUP_ROOT, "cgroup.subtree_control");
  if (existsSync(controllers) && readFileSync(controllers, "utf8").split(/\s+/).includes("memory")) {
    return { dir: CGROUP_ROOT, limitFile: "memory.max" };
  }
  return undefined;
}

export interface MemoryLimit {
  /** The limit applied; null when this machine has no memory controller to apply it with. */
  readonly limitBytes: number | null;
  /** argv to put before `node ...` so the process starts inside the cgroup. */
  readonly launchPrefix: readonly string[];
  /** Removes the cgroup; call once the process has exited. */
  remove(): void;
}

let counter = 0;

/** A fresh memory cgroup limited to `limitBytes` (or no limit, see the header). */
export function memoryLimit(limitBytes: number): MemoryLimit {
  const hierarchy = memoryHierarchy();
  if (hierarchy === undefined) {
    process.stderr.write("[bench] no memory cgroup controller here: components run without the chart's memory limit\n");
    return { limitBytes: null, launchPrefix: [], remove: () => {} };
  }
  counter += 1;
  const dir = join(hierarchy.dir, `tunnelkeeper-bench-${process.pid}-${counter}`);
  mkdirSync(dir);
  writeFileSync(join(dir, hierarchy.limitFile), String(limitBytes));
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    try {
      rmdirSync(dir);
    } catch (error) {
      process.stderr.write(`[bench] could not remove the cgroup ${dir}: ${(error as Error).message}\n`);
    }
  };
  process.once("exit", remove);
  // Joins the cgroup, then becomes the command: the pid the benchmark samples is the process's.
  const launchPrefix = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', join(dir, "cgroup.procs")];
  return { limitBytes, launchPrefix, remove };
}
