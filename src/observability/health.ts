/**
 * One HTTP server for `/metrics`, `/healthz` and `/readyz` (node:http).
 *
 * - `/metrics`: the registry in Prometheus text format 0.0.4, with the process and Node.js
 *   runtime metrics (runtime-metrics.ts) registered into it; their event-loop monitor and GC
 *   observer run while the server does.
 * - `/healthz`: liveness; 200 `ok` unless a registered liveness check fails.
 * - `/readyz`: readiness; 200 `ok` when every registered readiness check passes, else 503.
 *   With `?verbose` the body lists every check in the kube-apiserver style:
 *   `[+]informers ok` / `[-]informers failed: <reason>`, then `readyz check passed|failed`.
 *   A check passes when it returns true (or a promise of true) and fails when it returns false or
 *   throws; a check taking longer than `checkTimeoutMs` fails.
 *
 * Served whether or not this replica is the leader (house style §7.14). Lifecycle:
 * `start(signal)` resolves once listening; the server closes when `signal` aborts or on `close()`.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { nodeHttp } from "../runtime/node-http.ts";
import { PROMETHEUS_CONTENT_TYPE, type Registry } from "./metrics.ts";
import { type RuntimeMetrics, registerRuntimeMetrics } from "./runtime-metrics.ts";

export type HealthCheck = () => boolean | Promise<boolean>;

export interface HealthServerOptions {
  /** Bind host; default `0.0.0.0`. Use `127.0.0.1` in tests. */
  host?: string;
  /** Bind port; 0 picks a free port. */
  port: number;
  registry?: Registry;
  /** Register process_* and nodejs_* metrics into `registry`; default true. */
  runtimeMetrics?: boolean;
  /** Default 5000 ms. */
  checkTimeoutMs?: number;
}

interface CheckResult {
  name: string;
  ok: boolean;
  reason?: string;
}

export class HealthServer {
  readonly #host: string;
  readonly #port: number;
  readonly #registry: Registry | undefined;
  readonly #runtime: RuntimeMetrics | undefined;
  readonly #checkTimeoutMs: number;
  readonly #readiness = new Map<string, HealthCheck>();
  readonly #liveness = new Map<string, HealthCheck>();
  #server: Server | undefined;

  constructor(options: HealthServerOptions) {
    this.#host = options.host ?? "0.0.0.0";
    this.#port = options.port;
    this.#registry = options.registry;
    this.#runtime =
      options.registry !== undefined && options.runtimeMetrics !== false ? registerRuntimeMetrics(options.registry) : undefined;
    this.#checkTimeoutMs = options.checkTimeoutMs ?? 5000;
  }

  /** Registers a readiness check shown as `name` in `/readyz?verbose`. Names are unique. */
  addReadinessCheck(name: string, check: HealthCheck): void {
    if (this.#readiness.has(name)) throw new RangeError(`Readiness check ${name} is already registered`);
    this.#readiness.set(name, check);
  }

  /** Registers a liveness check for `/healthz`. Keep these cheap and local: failing restarts the pod. */
  addLivenessCheck(name: string, check: HealthCheck): void {
    if (this.#liveness.has(name)) throw new RangeError(`Liveness check ${name} is already registered`);
    this.#liveness.set(name, check);
  }

  /** The bound address; only valid after `start` resolved. */
  address(): AddressInfo {
    const address = this.#server?.address();
    if (address === null || address === undefined || typeof address === "string") {
      throw new Error("HealthServer is not listening");
    }
    return address;
  }

  async start(signal: AbortSignal): Promise<void> {
    if (this.#server !== undefined) throw new Error("HealthServer already started");
    const server = nodeHttp.createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
    this.#server = server;
    this.#runtime?.start();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, this.#host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    if (signal.aborted) await this.close();
    else signal.addEventListener("abort", () => this.#closeOnAbort(), { once: true });
  }

  /** Stops listening and closes idle and open connections. Idempotent. */
  async close(): Promise<void> {
    this.#runtime?.stop();
    const server = this.#server;
    if (server === undefined || !server.listening) return;
    await new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    });
  }

  #closeOnAbort(): void {
    this.close().catch((error: unknown) => {
      // Nothing awaits an abort listener; surface the failure instead of dropping it.
      queueMicrotask(() => {
        throw error;
      });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" && req.method !== "HEAD") {
      reply(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
      return;
    }
    switch (url.pathname) {
      case "/metrics":
        if (this.#registry === undefined) reply(res, 404, "text/plain; charset=utf-8", "no metrics\n");
        else reply(res, 200, PROMETHEUS_CONTENT_TYPE, await this.#registry.scrape());
        return;
      case "/healthz":
      case "/livez":
        await this.#replyChecks(res, "healthz", this.#liveness, url.searchParams.has("verbose"));
        return;
      case "/readyz":
        await this.#replyChecks(res, "readyz", this.#readiness, url.searchParams.has("verbose"));
        return;
      default:
        reply(res, 404, "text/plain; charset=utf-8", "not found\n");
    }
  }

  async #replyChecks(res: ServerResponse, endpoint: string, checks: Map<string, HealthCheck>, verbose: boolean): Promise<void> {
    const results = await Promise.all([...checks].map(([name, check]) => this.#run(name, check)));
    const ok = results.every((r) => r.ok);
    let body: string;
    if (verbose) {
      const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason ?? "reason withheld"}`));
      lines.push(`${endpoint} check ${ok ? "passed" : "failed"}`);
      body = `${lines.join("\n")}\n`;
    } else {
      body = ok
        ? "ok\n"
        : `${results
            .filter((r) => !r.ok)
            .map((r) => `[-]${r.name} failed`)
            .join("\n")}\n${endpoint} check failed\n`;
    }
    reply(res, ok ? 200 : 503, "text/plain; charset=utf-8", body);
  }

  async #run(name: string, check: HealthCheck): Promise<CheckResult> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve({ name, ok: false, reason: "timed out" }), this.#checkTimeoutMs);
    });
    const run = (async (): Promise<CheckResult> => {
      try {
        return (await check()) ? { name, ok: true } : { name, ok: false, reason: "not ready" };
      } catch (error) {
        return { name, ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    })();
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function reply(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
