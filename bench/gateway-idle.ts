/**
 * `npm run bench -- gateway-idle [--peer-pods N] [--rounds N] [--bundles A.mjs,B.mjs] [--settle S] [--heap-snapshot DIR]
 *                                [--node-options="..."]`
 *
 * The idle gateway alone (issue #15: ≤ 100 MiB RSS with caches synced and no connections): one
 * control plane, --peer-pods (default 1,000) KWOK pods in another namespace (as bench/gateway.ts
 * makes them), then gateways started one after another as installed (support/installed-operator.ts),
 * each stopped after it has been ready for --settle seconds (default 10). No controller and no
 * PortForward: what is left is the caches, the code and the runtime.
 *
 * --bundles runs prebuilt bundles (another commit's `node scripts/bundle.ts --out FILE`) in turn,
 * A, B, A, B, … for --rounds rounds (default 2), so an A/B comparison shares one control plane and
 * one time window. Each run reports VmHWM (what bench/gateway.ts calls "RSS before the
 * connections": the list's high-water mark is in it), VmRSS, RssAnon and RssFile at the end, and
 * the memory probe's `process.memoryUsage()` and V8 heap spaces (support/memory-probe.ts) at the
 * end and at the peak. --heap-snapshot DIR also writes a heap snapshot of each run at the end
 * (`--heapsnapshot-signal=SIGUSR2`; the snapshot costs RSS itself, so read RSS from runs without it).
 * --node-options adds Node.js options after the image's (a V8 flag to try, a probe to preload).
 * A script, never a test: it prints figures and writes JSON.
 */
import { readdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { startControlPlane } from "../test/cluster/control-plane.ts";
import { ensureNamespace } from "../test/cluster/pods.ts";
import { installCrd } from "../test/support/operator-process.ts";
import { startInstalledOperator } from "./support/installed-operator.ts";
import { compiledProbe, shippedCli } from "./support/shipped.ts";

const PEERS = "bench-gateway-peers";

function procStatusMiB(pid: number): Record<string, number> {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const read = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { VmHWM: read("VmHWM"), VmRSS: read("VmRSS"), RssAnon: read("RssAnon"), RssFile: read("RssFile") };
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** `{"old_space": 17.8, ...}` without the empty spaces, for one line of output. */
function compact(spaces: unknown): string {
  return Object.entries(spaces as Record<string, number>)
    .filter(([, mib]) => mib > 0)
    .map(([name, mib]) => `${name.replace(/_space$/, "")} ${mib}`)
    .join(", ");
}

export async function run(argv: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "peer-pods": { type: "string", default: "1000" },
      rounds: { type: "string", default: "2" },
      bundles: { type: "string" },
      settle: { type: "string", default: "10" },
      "heap-snapshot": { type: "string" },
      "node-options": { type: "string", default: "" },
    },
  });
  const peerPods = Number(values["peer-pods"]);
  const rounds = Number(values.rounds);
  const settleMs = Number(values.settle) * 1000;
  const bundles = values.bundles === undefined ? [shippedCli()] : values.bundles.split(",");
  const snapshotDir = values["heap-snapshot"];
  const plane = await startControlPlane();
  try {
    const admin = new KubeConfig();
    admin.loadFromFile(plane.state.kubeconfig);
    await installCrd({ state: plane.state, admin, unprivileged: admin, kubectl: plane.state.kubectl });
    await ensureNamespace(admin, PEERS);
    const core = admin.makeApiClient(CoreV1Api);
    for (let i = 0; i < peerPods; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, peerPods - i) }, (_, j) =>
          core.createNamespacedPod({
            namespace: PEERS,
            body: {
              metadata: { name: `peer-${i + j}`, labels: { app: "peer", "app.kubernetes.io/name": "peer", team: `t${(i + j) % 10}` } },
              spec: { nodeName: "kwok-node-0", containers: [{ name: "c", image: "peer:bench" }] },
            },
          }),
        ),
      );
    }
    // KWOK marks them Running with an IP; wait until it has, so every run lists the same pods.
    for (;;) {
      const list = await core.listNamespacedPod({ namespace: PEERS });
      if (list.items.filter((p) => p.status?.podIP).length >= peerPods) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const runs: unknown[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const bundle of bundles) {
        const memoryFile = join(tmpdir(), `tunnelkeeper-bench-idle-${process.pid}-${runs.length}.json`);
        const nodeOptions = [
          `--import ${compiledProbe("memory-probe.ts")}`,
          ...(snapshotDir ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${snapshotDir}`] : []),
          values["node-options"],
        ];
        const gateway = await startInstalledOperator({
          command: "gateway",
          kubeconfig: plane.state.kubeconfig,
          args: ["--log-level", "warn"],
          bundle,
          env: { NODE_OPTIONS: nodeOptions.join(" "), TK_BENCH_MEMORY_FILE: memoryFile },
        });
        const pid = gateway.child.pid ?? 0;
        await new Promise((r) => setTimeout(r, settleMs));
        const proc = procStatusMiB(pid);
        let snapshot: string | undefined;
        if (snapshotDir !== undefined) {
          const before = new Set(readdirSync(snapshotDir));
          process.kill(pid, "SIGUSR2");
          for (let i = 0; i < 600 && snapshot === undefined; i++) {
            await new Promise((r) => setTimeout(r, 100));
            const made = readdirSync(snapshotDir).find((f) => !before.has(f) && f.endsWith(".heapsnapshot"));
            if (made !== undefined) snapshot = join(snapshotDir, made);
          }
          await new Promise((r) => setTimeout(r, 5000));
          if (snapshot !== undefined) {
            const named = join(snapshotDir, `run-${runs.length}-${basename(bundle, ".mjs")}.heapsnapshot`);
            renameSync(snapshot, named);
            snapshot = named;
          }
        }
        await gateway.stop();
        const memory = JSON.parse(readFileSync(memoryFile, "utf8")) as Record<string, unknown>;
        const entry = {
          bundle,
          round,
          pid,
          proc,
          memory,
          ...(snapshot ? { snapshot } : {}),
          loadavg: readFileSync("/proc/loadavg", "utf8").trim(),
        };
        runs.push(entry);
        const latest = memory.latest as Record<string, number>;
        process.stdout.write(
          `${basename(bundle)} round ${round}: VmHWM ${round1(proc.VmHWM!)} MiB, VmRSS ${round1(proc.VmRSS!)} (anon ${round1(proc.RssAnon!)}, file ${round1(proc.RssFile!)}); ` +
            `heap used/total ${latest.heapUsedMiB}/${latest.heapTotalMiB}, external ${latest.externalMiB} (ArrayBuffers ${latest.arrayBuffersMiB}); ` +
            `spaces used ${compact(memory.heapSpacesLatestMiB)}, committed ${compact(memory.heapSpacesLatestCommittedMiB)}; load ${entry.loadavg}\n`,
        );
      }
    }
    return { peerPods, settleSeconds: settleMs / 1000, runs };
  } finally {
    await plane.stop();
  }
}
