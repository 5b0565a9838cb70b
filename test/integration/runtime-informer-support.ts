/**
 * Helpers for the informer integration tests: an informer over label-selected ConfigMaps that is
 * stopped after the test, waits, and a TCP relay to the API server that a test can cut.
 */
import assert from "node:assert/strict";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import type { TestContext } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { isGone } from "../../src/kube/errors.ts";
import type { ListWatchScope } from "../../src/kube/list-watch.ts";
import { Informer, type InformerState, type ListFn, type ObjectChange, type WatchFn } from "../../src/runtime/informer.ts";
import type { KubeObject } from "../../src/runtime/store.ts";

export type ConfigMap = KubeObject & { data?: Record<string, string> };

export const LABEL = "tunnelkeeper.io/informer-test";

export function scopeFor(namespace: string, extra: Partial<ListWatchScope> = {}): ListWatchScope {
  return { apiVersion: "v1", plural: "configmaps", kind: "ConfigMap", namespace, labelSelector: `${LABEL}=yes`, ...extra };
}

export function aConfigMap(name: string, data: Record<string, string> = {}): V1ConfigMap {
  return { metadata: { name, labels: { [LABEL]: "yes" } }, data };
}

/** Polls `condition` every 50 ms until it holds or `ms` pass. */
export async function eventually(what: string, condition: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for: ${what}`);
    await delay(50);
  }
}

export interface Running {
  informer: Informer<ConfigMap>;
  changes: ObjectChange<ConfigMap>[];
  transitions: InformerState[];
  failures: unknown[];
  done: Promise<void>;
}

/** Starts an informer with the given list/watch; stops it (and checks it stopped cleanly) after the test. */
export function startInformer(t: TestContext, listWatch: { list: ListFn<ConfigMap>; watch: WatchFn<ConfigMap> }): Running {
  const changes: ObjectChange<ConfigMap>[] = [];
  const transitions: InformerState[] = [];
  const failures: unknown[] = [];
  const informer = new Informer<ConfigMap>({
    name: "configmaps",
    ...listWatch,
    errors: { isGone },
    observer: { transition: (_from, to) => transitions.push(to), failed: (_phase, error) => failures.push(error) },
  });
  informer.addHandler((change) => changes.push(change));
  const abort = new AbortController();
  const done = informer.start(abort.signal);
  t.after(async () => {
    abort.abort();
    await done;
    assert.equal(informer.state.phase, "stopped");
  });
  return { informer, changes, transitions, failures, done };
}

export async function synced(running: Running): Promise<void> {
  const outcome = await Promise.race([
    running.informer.hasSynced().then(() => "synced"),
    running.done.then(
      () => "stopped",
      () => "stopped",
    ),
    delay(15_000, "timeout", { ref: false }),
  ]);
  assert.equal(outcome, "synced", "the informer did not sync within 15 s");
}

/** The same credentials, talking to `server` instead. */
export function viaServer(kubeConfig: KubeConfig, server: string): KubeConfig {
  const copy = new KubeConfig();
  copy.loadFromOptions({
    clusters: kubeConfig.clusters.map((c) => ({ ...c, server })),
    users: kubeConfig.users,
    contexts: kubeConfig.contexts,
    currentContext: kubeConfig.currentContext,
  });
  return copy;
}

export interface TcpRelay {
  /** `https://127.0.0.1:<port>`; TLS passes through, so the API server's certificate still matches. */
  url: string;
  /** Resets every open connection and refuses new ones for `ms`; resolves when it accepts again. */
  outage(ms: number): Promise<void>;
  /** Where new connections go from now on (e.g. another API server replica). */
  upstream: URL;
  close(): Promise<void>;
}

export async function startTcpRelay(upstream: URL): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    const target = connect({ host: relay.upstream.hostname, port: Number(relay.upstream.port) });
    track(client);
    track(target);
    client.on("error", () => target.destroy());
    target.on("error", () => client.destroy());
    client.pipe(target).pipe(client);
  });
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  const close = (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.resetAndDestroy();
    return closed;
  };
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const relay: TcpRelay = {
    upstream,
    url: `https://127.0.0.1:${port}`,
    async outage(ms) {
      await close();
      await delay(ms);
      await listen(port);
    },
    close: () => (server.listening ? close() : Promise.resolve()),
  };
  return relay;
}
