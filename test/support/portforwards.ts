/**
 * Driving PortForwards against a real API server, for tests and benchmarks: typed CRUD of
 * PortForwards as raw JSON, condition lookups, waiting for a state, a watch, kubectl, and polling.
 */
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { type KubeConfig, Watch } from "@kubernetes/client-node";
import { API_VERSION, KIND, PLURAL } from "../../src/api/identity.ts";
import { isNotFound } from "../../src/kube/errors.ts";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";

const execFileAsync = promisify(execFile);

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

/** One gateway replica's entry in status.gateways. */
export interface GatewayEntry {
  pod: string;
  connected: boolean;
  connectedTargets?: string[];
  protocol?: string;
  activeConnections?: number;
  reconnects?: number;
  reason?: string;
  lastError?: string;
  since?: string;
}

/** A PortForward as read from the API server (only what scripts and tests look at). */
export interface PortForwardObject {
  metadata: { name: string; namespace: string; uid: string; generation: number; resourceVersion: string };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    target?: string;
    serviceName?: string;
    pods?: string;
    ports?: { name?: string; port: number; gatewayPort: number }[];
    podServices?: { pod: string; service: string; ports: { name?: string; port: number; gatewayPort: number }[] }[];
    targets?: { pod: string; ready: boolean; servedNotReady?: boolean; gateways?: string[] }[];
    gateways?: GatewayEntry[];
    totals?: Record<string, number>;
    lastHandledReconcileAt?: string;
  };
}

export function condition(pf: PortForwardObject | undefined, type: string): Condition | undefined {
  return pf?.status?.conditions?.find((c) => c.type === type);
}

export function isReady(pf: PortForwardObject | undefined): boolean {
  return condition(pf, "Ready")?.status === "True";
}

/** The gateway port allocated to spec port `port` (throws if none yet). */
export function gatewayPortOf(pf: PortForwardObject, port: number): number {
  const allocated = pf.status?.ports?.find((p) => p.port === port)?.gatewayPort;
  if (allocated === undefined)
    throw new Error(`${pf.metadata.name}: no gateway port for port ${port} in ${JSON.stringify(pf.status?.ports)}`);
  return allocated;
}

export function hasCondition(pf: PortForwardObject | undefined, type: string, status: string, reason?: string): boolean {
  const c = condition(pf, type);
  return c?.status === status && (reason === undefined || c.reason === reason);
}

/** PortForward CRUD in one namespace, as raw JSON (kube/request.ts). */
export class PortForwards {
  readonly #kubeConfig: KubeConfig;
  readonly #namespace: string;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.#kubeConfig = kubeConfig;
    this.#namespace = namespace;
  }

  #path(name?: string): string {
    return resourcePath({ apiVersion: API_VERSION, plural: PLURAL, namespace: this.#namespace, ...(name === undefined ? {} : { name }) });
  }

  async create(name: string, spec: Record<string, unknown>): Promise<PortForwardObject> {
    const body = { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec };
    return (await kubeRequest(this.#kubeConfig, { method: "POST", path: this.#path(), body })) as PortForwardObject;
  }

  async get(name: string): Promise<PortForwardObject | undefined> {
    try {
      return (await kubeRequest(this.#kubeConfig, { method: "GET", path: this.#path(name) })) as PortForwardObject;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async list(): Promise<PortForwardObject[]> {
    const list = (await kubeRequest(this.#kubeConfig, { method: "GET", path: this.#path() })) as { items: PortForwardObject[] };
    return list.items;
  }

  /** JSON merge patch of the spec. */
  async patchSpec(name: string, spec: Record<string, unknown>): Promise<PortForwardObject> {
    return (await kubeRequest(this.#kubeConfig, {
      method: "PATCH",
      path: this.#path(name),
      contentType: "application/merge-patch+json",
      body: { spec },
    })) as PortForwardObject;
  }

  /** JSON merge patch of metadata.annotations (a null value removes that annotation). */
  async annotate(name: string, annotations: Record<string, string | null>): Promise<PortForwardObject> {
    return (await kubeRequest(this.#kubeConfig, {
      method: "PATCH",
      path: this.#path(name),
      contentType: "application/merge-patch+json",
      body: { metadata: { annotations } },
    })) as PortForwardObject;
  }

  async delete(name: string): Promise<void> {
    await kubeRequest(this.#kubeConfig, { method: "DELETE", path: this.#path(name) });
  }

  /** Polls until `predicate` holds for the PortForward; resolves with it. */
  until(name: string, what: string, predicate: (pf: PortForwardObject) => boolean, timeoutMs = 30_000): Promise<PortForwardObject> {
    return waitFor(
      `${this.#namespace}/${name}: ${what}`,
      async () => {
        const pf = await this.get(name);
        return pf !== undefined && predicate(pf) ? pf : undefined;
      },
      timeoutMs,
    );
  }

  /** Ready=True with gateway ports allocated. */
  ready(name: string, timeoutMs = 30_000): Promise<PortForwardObject> {
    return this.until(name, "Ready=True", (pf) => isReady(pf) && (pf.status?.ports?.length ?? 0) > 0, timeoutMs);
  }
}

/** Polls `probe` every `intervalMs` until it returns a value; errors count as "not yet". */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError === undefined ? "" : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** Runs kubectl with `kubeconfig`; resolves stdout, rejects with stderr on a non-zero exit. */
export async function kubectl(kubectlPath: string, kubeconfig: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execFileAsync(kubectlPath, ["--kubeconfig", kubeconfig, ...args], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** GETs any object as raw JSON (managedFields included); undefined when it does not exist. */
export async function getObject<T = Record<string, unknown>>(
  kubeConfig: KubeConfig,
  where: { apiVersion: string; plural: string; namespace?: string; name: string },
): Promise<T | undefined> {
  try {
    return (await kubeRequest(kubeConfig, { method: "GET", path: resourcePath(where) })) as T;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Watches the PortForwards of `namespace` from now on and calls `onObject` with every version
 * seen (ADDED/MODIFIED). Returns a function that stops the watch. A watch that ends early is
 * restarted, so no version in between is missed for long.
 */
export function watchPortForwards(kubeConfig: KubeConfig, namespace: string, onObject: (pf: PortForwardObject) => void): () => void {
  const path = resourcePath({ apiVersion: API_VERSION, plural: PLURAL, namespace });
  const watch = new Watch(kubeConfig);
  let stopped = false;
  let current: AbortController | undefined;
  const start = async (): Promise<void> => {
    if (stopped) return;
    current = await watch.watch(
      path,
      {},
      (phase, object) => {
        if (phase === "ADDED" || phase === "MODIFIED") onObject(object as PortForwardObject);
      },
      () => {
        if (!stopped) setTimeout(restart, 200);
      },
    );
  };
  const restart = () => {
    start().catch((error: unknown) => {
      process.stderr.write(`PortForward watch failed; retrying: ${String(error)}\n`);
      if (!stopped) setTimeout(restart, 200);
    });
  };
  restart();
  return () => {
    stopped = true;
    current?.abort();
  };
}
