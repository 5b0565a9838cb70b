/**
 * What end-to-end tests (controller and gateways as real processes) share: polling, echo and
 * streamed traffic through a gateway port with every byte checked, PortForward objects, metric
 * values, and an operator fixture scoped to one test namespace.
 *
 * Isolation between test files (the runner runs two files at a time against ONE control plane):
 * - every operator the fixture starts watches only its test's namespace (`--namespace`) and keeps
 *   its gateway heartbeat Leases there (POD_NAMESPACE), so controllers and gateways of other files
 *   neither reconcile nor serve this file's PortForwards, nor see its gateways;
 * - its gateways listen on a loopback address of their own (127.x.y.z), so gateway ports that
 *   two files' controllers happen to allocate alike never collide;
 * - restarting the API server or KWOK breaks every tunnel in the cluster, so tests that restart
 *   them hold the control plane exclusively and every fixture holds it shared
 *   (`controlPlaneLock`): a restart waits for the files running beside it, never cuts them.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type TestCluster, testCluster } from "./cluster.ts";
import { installCrd, type OperatorProcess, startOperatorProcess } from "./operator-process.ts";
import { PortForwards } from "./portforwards.ts";
import { echoOnce } from "./tunnel-traffic.ts";

export {
  type Condition as PortForwardCondition,
  condition,
  type GatewayEntry,
  gatewayPortOf,
  isReady,
  type PortForwardObject,
  PortForwards,
  waitFor,
} from "./portforwards.ts";

// ---------------------------------------------------------------------------------------------
// Polling

// ---------------------------------------------------------------------------------------------
// Traffic

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** A connected client socket (rejects on connect errors). */
export function connectTo(endpoint: Endpoint): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    socket.once("connect", () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      // Say where (several gateways listen on different loopback addresses); keep the code.
      reject(
        Object.assign(new Error(`connect to ${endpoint.host}:${endpoint.port} failed: ${error.code ?? error.message}`, { cause: error }), {
          code: error.code,
        }),
      );
    });
  });
}

/**
 * Writes `payload` on `socket` and resolves with exactly `payload.length` echoed bytes (then
 * stops listening; the caller owns the socket). Rejects if the socket errors or closes first.
 */
export function echoOn(socket: Socket, payload: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  return echoOnce(socket, payload, timeoutMs);
}

/** One connection: sends `payload`, reads the whole echo, then destroys the connection. */
export async function echoThrough(endpoint: Endpoint, payload: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  const socket = await connectTo(endpoint);
  try {
    return await echoOn(socket, payload, timeoutMs);
  } finally {
    socket.destroy();
  }
}

/** Sends random bytes through an echo and checks they come back intact; throws otherwise. */
export async function assertEchoes(endpoint: Endpoint, size = 64 * 1024, timeoutMs = 30_000): Promise<void> {
  const payload = randomBytes(size);
  const echoed = await echoThrough(endpoint, payload, timeoutMs);
  assert.ok(echoed.equals(payload), `echo through ${endpoint.host}:${endpoint.port} came back intact`);
}

export interface StreamedTransfer {
  readonly bytes: number;
  readonly sentSha256: string;
  readonly receivedSha256: string;
  readonly seconds: number;
}

/**
 * Streams `totalBytes` of random data through an echo with backpressure (never more than one
 * chunk waiting in the socket), hashing what was sent and what came back; resolves once every
 * byte came back. Never holds the whole payload in memory.
 */
export async function streamThroughEcho(endpoint: Endpoint, totalBytes: number, timeoutMs = 120_000): Promise<StreamedTransfer> {
  const socket = await connectTo(endpoint);
  const started = performance.now();
  const sent = createHash("sha256");
  const received = createHash("sha256");
  let receivedBytes = 0;
  try {
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${receivedBytes} of ${totalBytes} bytes came back within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.on("data", (chunk: Buffer) => {
        received.update(chunk);
        receivedBytes += chunk.length;
        if (receivedBytes >= totalBytes) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once("close", () => {
        clearTimeout(timer);
        reject(new Error(`the connection closed after ${receivedBytes} of ${totalBytes} bytes came back`));
      });
    });
    const writing = (async () => {
      const chunkSize = 1024 * 1024;
      for (let offset = 0; offset < totalBytes; offset += chunkSize) {
        const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(chunkSize, totalBytes - offset)));
        sent.update(chunk);
        if (!socket.write(chunk)) {
          await new Promise<void>((resolve, reject) => {
            const onDrain = () => {
              socket.off("close", onClose);
              resolve();
            };
            const onClose = () => {
              socket.off("drain", onDrain);
              reject(new Error("the connection closed while sending"));
            };
            socket.once("drain", onDrain);
            socket.once("close", onClose);
          });
        }
      }
    })();
    await Promise.all([writing, done]);
    return {
      bytes: receivedBytes,
      sentSha256: sent.digest("hex"),
      receivedSha256: received.digest("hex"),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// PortForward objects

// ---------------------------------------------------------------------------------------------
// Metrics

/** The value of one sample in Prometheus text, 0 when absent; `labels` must match exactly those given. */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([^{\s]+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== name) continue;
    const sample = new Map<string, string>();
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) sample.set(pair[1]!, pair[2]!);
    if (Object.entries(labels).every(([k, v]) => sample.get(k) === v)) {
      total += Number(match[3]);
      found = true;
    }
  }
  return found ? total : 0;
}

// ---------------------------------------------------------------------------------------------
// Control-plane lock (see the header)

function lockDir(): string {
  const dir = join(testCluster().state.workDir, "e2e-locks");
  mkdirSync(dir, { recursive: true });
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid holding the control plane exclusively (-1: being taken), or undefined; clears a dead holder. */
function exclusiveHolder(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, "exclusive", "pid"), "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    // No pid file: either no holder, or one between mkdir and writing its pid.
    return existsSync(join(dir, "exclusive")) ? -1 : undefined;
  }
  if (alive(pid)) return pid;
  rmSync(join(dir, "exclusive"), { recursive: true, force: true });
  return undefined;
}

/**
 * Holds the control plane `shared` (a test whose tunnels must not be cut) or `exclusive` (a
 * test that restarts the API server or KWOK) across test-file processes; resolves with the
 * release function. Writers take precedence over new readers.
 */
export async function controlPlaneLock(kind: "shared" | "exclusive", timeoutMs = 600_000): Promise<() => void> {
  const dir = lockDir();
  const deadline = Date.now() + timeoutMs;
  const tooLate = (): void => {
    if (Date.now() > deadline) throw new Error(`could not take the control plane ${kind} within ${timeoutMs} ms`);
  };
  if (kind === "shared") {
    const mine = join(dir, `shared-${process.pid}-${randomBytes(4).toString("hex")}`);
    for (;;) {
      writeFileSync(mine, String(process.pid));
      if (exclusiveHolder(dir) === undefined) return () => rmSync(mine, { force: true });
      rmSync(mine, { force: true });
      tooLate();
      await sleep(200);
    }
  }
  for (;;) {
    try {
      mkdirSync(join(dir, "exclusive"));
      writeFileSync(join(dir, "exclusive", "pid"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      exclusiveHolder(dir);
      tooLate();
      await sleep(200);
    }
  }
  const release = () => rmSync(join(dir, "exclusive"), { recursive: true, force: true });
  for (;;) {
    const readers = readdirSync(dir).filter((name) => name.startsWith("shared-"));
    const live = readers.filter((name) => {
      const pid = Number(name.split("-")[1]);
      if (pid === process.pid || alive(pid)) return true;
      rmSync(join(dir, name), { force: true });
      return false;
    });
    if (live.length === 0) return release;
    if (Date.now() > deadline) {
      release();
      tooLate();
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// Operator fixture

/** A loopback address of this test's own (127.x.y.z, never 127.0.0.1). */
export function uniqueLoopback(): string {
  const [a, b, c] = randomBytes(3);
  return `127.${1 + (a! % 254)}.${b!}.${1 + (c! % 254)}`;
}

export interface GatewayReplicaOptions {
  readonly podName?: string;
  readonly listenHost?: string;
  readonly args?: readonly string[];
}

export interface Operator {
  readonly cluster: TestCluster;
  readonly namespace: string;
  readonly controller: OperatorProcess;
  readonly gateways: OperatorProcess[];
  /** The listen address of each gateway, in the same order. */
  readonly hosts: string[];
  readonly portForwards: PortForwards;
  /** Starts one more gateway replica in the fixture's scope. */
  addGateway(options?: GatewayReplicaOptions): Promise<OperatorProcess>;
}

export interface OperatorFixtureOptions {
  /** Gateway replicas to start (default one). */
  readonly gateways?: readonly GatewayReplicaOptions[];
  /** `exclusive` for tests that restart control-plane components (default `shared`). */
  readonly controlPlane?: "shared" | "exclusive";
}

/**
 * Installs the CRD, takes the control-plane lock for the test, and starts a controller and the
 * gateway replicas as real processes, all scoped to `namespace` (see the header).
 */
export async function startOperator(t: TestContext, namespace: string, options: OperatorFixtureOptions = {}): Promise<Operator> {
  const cluster = testCluster();
  await installCrd(cluster);
  const release = await controlPlaneLock(options.controlPlane ?? "shared");
  t.after(release);
  const scope = ["--namespace", namespace];
  const controller = await startOperatorProcess(
    { command: "controller", kubeconfig: cluster.state.kubeconfig, podNamespace: namespace, args: scope },
    t,
  );
  const gateways: OperatorProcess[] = [];
  const hosts: string[] = [];
  const addGateway = async (replica: GatewayReplicaOptions = {}): Promise<OperatorProcess> => {
    const listenHost = replica.listenHost ?? uniqueLoopback();
    const gateway = await startOperatorProcess(
      {
        command: "gateway",
        kubeconfig: cluster.state.kubeconfig,
        podNamespace: namespace,
        listenHost,
        args: [...scope, ...(replica.args ?? [])],
        ...(replica.podName === undefined ? {} : { podName: replica.podName }),
      },
      t,
    );
    gateways.push(gateway);
    hosts.push(listenHost);
    return gateway;
  };
  for (const replica of options.gateways ?? [{}]) await addGateway(replica);
  return { cluster, namespace, controller, gateways, hosts, portForwards: new PortForwards(cluster.admin, namespace), addGateway };
}
