/**
 * `tunnelkeeper forward -f FILE|DIR`: runs PortForward manifests (the YAML the operator takes,
 * validated by the same zod schema) from a laptop, without the operator: every PortForward gets
 * a listener per Service port, at `port + --port-offset` on every `--address`, with the same
 * engine as `forward` (one tunnel per pod, following ready pods as they come and go).
 *
 * One status line per PortForward: redrawn in place on a terminal, printed again whenever it
 * changes otherwise (so a log or a pipe keeps the history).
 *
 * Files: a directory means its *.yaml, *.yml and *.json files (not recursive, like kubectl -f);
 * documents of other kinds are skipped with a note. A document that is not a valid PortForward
 * fails the command before anything listens, naming the file, the document and the field.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { loadAllYaml } from "@kubernetes/client-node";
import { GROUP, KIND } from "../api/identity.ts";
import { type PortForward, parsePortForward } from "../api/portforward.ts";
import type { Config } from "../config.ts";
import { loadKubeConfig } from "../kube/client.ts";
import type { Logger } from "../observability/log.ts";
import { describeTarget } from "../targets/resolve-targets.ts";
import type { CacheKind } from "../watch/cluster-cache.ts";
import { CommandError } from "./command-error.ts";
import { type FollowedPortForward, followPortForward, kindsFor, type LocalBinding, startCache, untilSignal } from "./forward-engine.ts";

export interface LoadedPortForward {
  readonly file: string;
  readonly pf: PortForward;
  readonly namespace: string;
}

const MANIFEST_EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

function manifestFiles(path: string): string[] {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw new CommandError(`${path}: no such file or directory (-f takes PortForward manifests: files or directories of them)`);
  }
  if (!stat.isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => MANIFEST_EXTENSIONS.has(extname(name)))
    .sort()
    .map((name) => join(path, name));
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`)).join("");
}

/** Reads and validates every PortForward in `paths`; `skipped` receives notes about other documents. */
export function loadPortForwards(
  paths: readonly string[],
  defaultNamespace: string,
  skipped: (note: string) => void = () => undefined,
): LoadedPortForward[] {
  const loaded: LoadedPortForward[] = [];
  for (const file of paths.flatMap(manifestFiles)) {
    let documents: unknown[];
    try {
      documents = loadAllYaml(readFileSync(file, "utf8")).filter((d: unknown) => d !== null && d !== undefined);
    } catch (error) {
      throw new CommandError(`${file}: not valid YAML: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    }
    documents.forEach((document, index) => {
      const object = document as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
      const where = `${file} (document ${index + 1}${typeof object.metadata?.name === "string" ? `, PortForward "${object.metadata.name}"` : ""})`;
      if (object.kind !== KIND || typeof object.apiVersion !== "string" || !object.apiVersion.startsWith(`${GROUP}/`)) {
        skipped(`${file} (document ${index + 1}): skipped ${String(object.kind ?? "a document without kind")}, not a ${KIND}`);
        return;
      }
      const parsed = parsePortForward(document);
      if (!parsed.ok) {
        const issue = parsed.error.issues[0]!;
        throw new CommandError(`${where}: ${fieldPath(issue.path) || "the document"}: ${issue.message}`);
      }
      if (parsed.value.spec.cluster !== undefined) {
        // The operator reads the kubeconfig Secret; on a laptop the user's own kubeconfig already
        // says which cluster, so a second one inside the manifest would only be a way to confuse them.
        throw new CommandError(
          `${where}: spec.cluster names another cluster, which only the operator serves; remove it and choose the cluster with --context or --kubeconfig`,
        );
      }
      const namespace = parsed.value.metadata.namespace ?? defaultNamespace;
      const key = `${namespace}/${parsed.value.metadata.name}`;
      const twin = loaded.find((l) => `${l.namespace}/${l.pf.metadata.name}` === key);
      if (twin !== undefined) throw new CommandError(`${where}: PortForward ${key} is also defined in ${twin.file}; names must be unique`);
      loaded.push({ file, pf: parsed.value, namespace });
    });
  }
  if (loaded.length === 0) throw new CommandError(`no PortForward found in ${paths.join(", ")}`);
  return loaded;
}

interface Running {
  readonly loaded: LoadedPortForward;
  readonly followed: FollowedPortForward;
  readonly bindings: readonly LocalBinding[];
}

function formatAddress(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One line: name, listeners → target, and what is behind it now. */
export function statusLine(running: Running): string {
  const { loaded, followed, bindings } = running;
  const snapshot = followed.forwarder.snapshot();
  const resolved = followed.resolved();
  const first = bindings.filter((b) => b.address === bindings[0]?.address);
  const host = bindings[0] === undefined ? "" : formatAddress(bindings[0].address, 0).slice(0, -2);
  const locals = first.map((b) => snapshot.listening.get(b.id) ?? b.localPort).join(",");
  const remotes = first.map((b) => b.specPort).join(",");
  const head = `${loaded.namespace}/${loaded.pf.metadata.name}  ${host}:${locals} -> ${describeTarget(loaded.pf.spec.target)}:${remotes}`;
  if (snapshot.listenErrors.length > 0) return `${head}  error: ${snapshot.listenErrors.join("; ")}`;
  const ready = resolved.targets.filter((t) => t.ready).length;
  if (!resolved.ok) return `${head}  waiting: ${resolved.message}`;
  const tunnels = snapshot.connectedTargets.length;
  const state = tunnels > 0 ? "Ready" : "Connecting";
  return `${head}  ${state}: ${ready}/${resolved.targets.length} pods ready, ${tunnels} tunnel${tunnels === 1 ? "" : "s"} open, ${snapshot.activeConnections} connection${snapshot.activeConnections === 1 ? "" : "s"}`;
}

export async function runForwardFiles(config: Extract<Config, { command: "forward" }>, log: Logger): Promise<number> {
  const { forward, common } = config;
  const { connection: kubeConfig, namespace: contextNamespace } = await loadKubeConfig({
    ...(common.kubeconfigPath === undefined ? {} : { kubeconfigPath: common.kubeconfigPath }),
    ...(common.context === undefined ? {} : { context: common.context }),
  });
  const defaultNamespace = forward.namespace ?? contextNamespace ?? "default";
  const loaded = loadPortForwards(forward.files, defaultNamespace, (note) => process.stderr.write(`${note}\n`));
  for (const { pf, namespace } of loaded) {
    for (const port of pf.spec.ports) {
      const local = port.port + forward.portOffset;
      if (local < 1 || local > 65535) {
        throw new CommandError(
          `PortForward ${namespace}/${pf.metadata.name}: port ${port.port} + --port-offset ${forward.portOffset} = ${local} is not a port (1-65535)`,
        );
      }
    }
  }
  const namespaces = [...new Set(loaded.map((l) => l.namespace))];
  const kinds = [...new Set(loaded.flatMap((l) => kindsFor(l.pf)))] as CacheKind[];
  const { cache, stop } = await startCache(kubeConfig, namespaces, kinds, log);
  const running: Running[] = [];
  const render = createStatusRenderer(process.stdout);
  try {
    for (const item of loaded) {
      const followed = followPortForward({
        kubeConfig,
        cache,
        pf: item.pf,
        namespace: item.namespace,
        log: log.child({ portforward: `${item.namespace}/${item.pf.metadata.name}` }),
      });
      let id = 0;
      const bindings = forward.addresses.flatMap((address) =>
        item.pf.spec.ports.map((p) => ({ id: ++id, specPort: p.port, address, localPort: p.port + forward.portOffset })),
      );
      await followed.bind(bindings);
      const entry = { loaded: item, followed, bindings };
      // localhost tolerates an address that cannot be bound (no IPv6), as in kubectl.
      if (forward.addressesFromLocalhost) {
        const listening = followed.forwarder.snapshot().listening;
        const failed = bindings.filter((b) => !listening.has(b.id));
        const failedPorts = new Set(failed.map((b) => b.specPort));
        const allFailed = [...failedPorts].filter((port) => bindings.filter((b) => b.specPort === port).every((b) => !listening.has(b.id)));
        if (failed.length > 0 && allFailed.length === 0) {
          const kept = bindings.filter((b) => listening.has(b.id));
          await followed.bind(kept);
          running.push({ ...entry, bindings: kept });
          continue;
        }
      }
      running.push(entry);
    }
    const draw = () => render(running.map(statusLine));
    for (const r of running) r.followed.onUpdate(draw);
    draw();
    await untilSignal();
    render.finish();
    return 0;
  } finally {
    await Promise.all(running.map((r) => r.followed.forwarder.close(0)));
    await stop();
  }
}

interface StatusRenderer {
  (lines: readonly string[]): void;
  finish(): void;
}

/** Redraws the block of lines in place on a terminal; elsewhere prints each line when it changes. */
function createStatusRenderer(stream: NodeJS.WriteStream): StatusRenderer {
  let shown: readonly string[] = [];
  let pending: readonly string[] | undefined;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const lines = pending ?? shown;
    pending = undefined;
    if (stream.isTTY) {
      const up = shown.length > 0 ? `\x1b[${shown.length}F` : "";
      stream.write(`${up}${lines.map((line) => `\x1b[2K${line.slice(0, Math.max(20, (stream.columns ?? 200) - 1))}`).join("\n")}\n`);
    } else {
      for (const [i, line] of lines.entries()) if (shown[i] !== line) stream.write(`${line}\n`);
    }
    shown = lines;
  };
  const render = ((lines: readonly string[]) => {
    pending = lines;
    timer ??= setTimeout(flush, 50);
  }) as StatusRenderer;
  render.finish = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      flush();
    }
  };
  return render;
}
