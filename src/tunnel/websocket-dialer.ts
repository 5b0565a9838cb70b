/**
 * Opens a WebSocket to `/api/v1/namespaces/{ns}/pods/{pod}/portforward` with the credentials and
 * TLS settings of a `KubeConnection` (kube/connection.ts), and hands over the upgraded socket (the
 * framing is ours: websocket-transport.ts).
 *
 * Contract:
 *  - TLS, client certificates, bearer tokens (and, through @kubernetes/client-node, exec and
 *    auth-provider plugins and proxies) come from `kubeConfig.applyToHTTPSOptions(options)`,
 *    which fills `ca/cert/key`, `headers.Authorization`, and an `agent` shared by every dial
 *    (so TLS sessions are resumed across dials).
 *  - One TLS context per set of credentials: `secureContextFor` builds it once per distinct
 *    CA/certificate/key (by content, so rotated files get a new one) and every dial with the
 *    same ones reuses it. Without it each dial parsed the CA and key again (in the gateway's
 *    live-tunnel profile `createSecureContext` was 1.85 of 3.64 s spent dialling 1,000 tunnels).
 *  - The upgrade is RFC 6455 §4.1: GET with `Upgrade: websocket`, a fresh 16-byte
 *    `Sec-WebSocket-Key`, version 13, exactly one subprotocol and no extension (permessage-deflate
 *    would be pointless for already-framed bytes and costly in CPU). A 101 must answer
 *    `Upgrade: websocket`, the key's `Sec-WebSocket-Accept`, no extension and the subprotocol we
 *    offered; otherwise PF_ERR_UPGRADE_FAILED. (Kubernetes' `SPDY/3.1+portforward.k8s.io` is
 *    not an RFC 6455 token, since `/` is a separator; the API server sends it as is, and so do we.)
 *  - Non-101 answers are read (≤ 64 KiB) and mapped by classifyHandshakeFailure; errors without
 *    an HTTP answer (DNS, TCP, TLS, handshake timeout) are PF_ERR_NETWORK; an aborted signal is
 *    PF_ERR_ABORTED. The promise resolves only with an upgraded socket, PAUSED (the transport
 *    that attaches resumes it, so no early frame is lost), with TCP_NODELAY set, together with
 *    the bytes that arrived after the response headers and the masking keys to send with.
 *  - Masking: frames we send over wss:// carry the all-zero masking key (see `maskKeysFor`);
 *    over plaintext ws:// every frame gets a fresh random key, as RFC 6455 requires.
 */
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import type { ClientRequest, IncomingMessage, RequestOptions } from "node:http";
import type { Socket } from "node:net";
import { createSecureContext, type SecureContext, type SecureContextOptions } from "node:tls";
import type { KubeConnection } from "../kube/connection.ts";
import { requestEndpoint } from "../kube/request.ts";
import { classifyHandshakeFailure, type HandshakeTarget, networkFailure, subprotocolMismatch } from "./handshake-failure.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";
import { MASK_KEY_BYTES } from "./websocket-frame.ts";

const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface DialOptions {
  readonly kubeConfig: KubeConnection;
  readonly namespace: string;
  readonly pod: string;
  readonly subprotocol: string;
  /** Appended as repeated `ports=` query parameters (legacy v4 needs them). */
  readonly ports?: readonly number[];
  readonly handshakeTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Builds the wss:// URL, keeping any path prefix of the cluster server URL. */
export function portForwardUrl(server: string, namespace: string, pod: string, ports: readonly number[] = []): URL {
  const url = new URL(server);
  url.protocol = url.protocol === "http:" ? "ws:" : "wss:";
  const prefix = url.pathname.replace(/\/+$/, "");
  url.pathname = `${prefix}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward`;
  url.search = "";
  for (const port of ports) url.searchParams.append("ports", String(port));
  return url;
}

/**
 * Masking decision (issue #15): over TLS, client frames carry the all-zero masking key.
 *
 * RFC 6455 §5.3 and §10.3 ask a client for an unpredictable masking key per frame so that a
 * script in a browser cannot choose the bytes that appear on the wire and use them to poison
 * the cache of a proxy that does not understand WebSocket (Huang et al., "Talking to Yourself
 * for Fun and Profit"). Masking defends only bytes that such an intermediary can read. Inside
 * TLS no intermediary reads them: they are encrypted with keys that only we and the API server
 * hold (a proxy from the kubeconfig sees a CONNECT tunnel), so the mask protects nothing there.
 * It is not free either: masking in JavaScript XORs and copies every payload byte (ws 8, which
 * we used before our own framing, did so unless the native `bufferutil` addon was installed).
 * Profile of a 1 GiB upload then: the masking and the masked copy were about a third of the
 * forwarder's CPU. With an all-zero key the frame still has the MASK bit, which servers
 * require, XOR with zero leaves the payload as it is, so the payload goes out without a copy,
 * and the API server's unmasking of zero bytes is a no-op in effect.
 *
 * Plaintext ws:// (an API server without TLS, test setups) gets a random key per frame, so the
 * wire there is what RFC 6455 expects; that path masks into a copy (websocket-frame.ts).
 */
const ZERO_KEY = Buffer.alloc(MASK_KEY_BYTES);

/** The masking keys for frames sent to `url`: all zero over wss://, random over ws://. */
export function maskKeysFor(url: URL): () => Buffer {
  if (url.protocol === "wss:") return () => ZERO_KEY;
  return () => randomFillSync(Buffer.allocUnsafe(MASK_KEY_BYTES));
}

/** RFC 6455 §4.2.2: the accept value a server derives from our key. */
export function acceptKeyFor(key: string): string {
  return createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
}

/**
 * Pure: why a 101 answer does not complete our upgrade, or null when it does. `headers` are the
 * response's (lower-case names, as node:http gives them).
 */
export function upgradeProblem(
  headers: IncomingMessage["headers"],
  key: string,
  subprotocol: string,
  target: HandshakeTarget,
): TunnelError | null {
  const fail = (what: string): TunnelError =>
    new TunnelError(TunnelErrorCode.UpgradeFailed, `the WebSocket upgrade for pod ${target.namespace}/${target.pod} failed: ${what}`);
  if (String(headers.upgrade ?? "").toLowerCase() !== "websocket")
    return fail(`the answer's Upgrade header is ${JSON.stringify(headers.upgrade ?? "")}`);
  if (headers["sec-websocket-accept"] !== acceptKeyFor(key)) return fail("the answer's Sec-WebSocket-Accept does not match our key");
  if (headers["sec-websocket-extensions"] !== undefined) return fail("the server chose an extension we did not offer");
  const answered = headers["sec-websocket-protocol"];
  if (answered !== subprotocol) return subprotocolMismatch(subprotocol, answered, target);
  return null;
}

type TlsCredentials = Pick<SecureContextOptions, "ca" | "cert" | "key" | "pfx" | "passphrase">;

const MAX_CACHED_CONTEXTS = 16;
const contexts = new Map<string, SecureContext>();

/** Settings that would make a context differ beyond its credentials; with any of them set, no reuse. */
const UNCACHED_TLS_SETTINGS = [
  "ciphers",
  "crl",
  "dhparam",
  "ecdhCurve",
  "secureOptions",
  "secureProtocol",
  "honorCipherOrder",
  "sessionIdContext",
];

function fingerprint(value: unknown): string {
  if (value === undefined || value === null) return "-";
  if (Array.isArray(value)) return value.map(fingerprint).join(",");
  return createHash("sha256")
    .update(value as Buffer | string)
    .digest("base64");
}

/**
 * The TLS context for these credentials, built once and reused while they stay the same
 * (a small cache by content; the oldest entry goes first). Undefined when the options carry
 * settings beyond the credentials: then tls.connect builds its own, as before.
 */
export function secureContextFor(options: TlsCredentials & Record<string, unknown>): SecureContext | undefined {
  if (UNCACHED_TLS_SETTINGS.some((name) => options[name] !== undefined)) return undefined;
  const key = [options.ca, options.cert, options.key, options.pfx, options.passphrase].map(fingerprint).join("|");
  let context = contexts.get(key);
  if (context === undefined) {
    context = createSecureContext({
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      pfx: options.pfx,
      passphrase: options.passphrase,
    });
    if (contexts.size >= MAX_CACHED_CONTEXTS) contexts.delete(contexts.keys().next().value!);
    contexts.set(key, context);
  }
  return context;
}

/** An upgraded connection: the socket (paused), the first bytes after the headers, the keys. */
export interface DialedWebSocket {
  readonly socket: Socket;
  readonly headBytes: Buffer;
  readonly nextMaskKey: () => Buffer;
}

export async function dialWebSocket(options: DialOptions): Promise<DialedWebSocket> {
  const target: HandshakeTarget = { namespace: options.namespace, pod: options.pod, protocol: options.subprotocol };
  const cluster = options.kubeConfig.getCurrentCluster();
  if (cluster === null) throw networkFailure(new Error("the kubeconfig has no current cluster"), target);
  const url = portForwardUrl(cluster.server, options.namespace, options.pod, options.ports);
  const requestOptions: RequestOptions & { headers?: Record<string, string> } = {};
  try {
    await options.kubeConfig.applyToHTTPSOptions(requestOptions);
  } catch (error) {
    throw new TunnelError(TunnelErrorCode.Forbidden, `could not obtain credentials from the kubeconfig: ${String(error)}`, {
      cause: error,
    });
  }
  options.signal?.throwIfAborted();
  const webSocketKey = randomBytes(16).toString("base64");
  const { secure, send, address } = requestEndpoint(url);
  const timeoutMs = options.handshakeTimeoutMs ?? 30_000;
  const secureContext = secure ? secureContextFor(requestOptions as TlsCredentials & Record<string, unknown>) : undefined;
  return await new Promise<DialedWebSocket>((resolve, reject) => {
    const request: ClientRequest = send({
      ...requestOptions,
      ...(secureContext === undefined ? {} : { secureContext }),
      ...address,
      method: "GET",
      headers: {
        ...requestOptions.headers,
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": webSocketKey,
        "Sec-WebSocket-Protocol": options.subprotocol,
      },
    });
    let settled = false;
    const settle = (error: TunnelError | null, dialed?: DialedWebSocket): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (error === null) {
        resolve(dialed!);
        return;
      }
      request.on("error", () => {});
      request.destroy();
      reject(error);
    };
    const timer = setTimeout(() => settle(networkFailure(new Error(`no WebSocket upgrade within ${timeoutMs} ms`), target)), timeoutMs);
    const onAbort = (): void => settle(new TunnelError(TunnelErrorCode.Aborted, "the dial was aborted"));
    request.on("upgrade", (response: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.pause();
      const problem = upgradeProblem(response.headers, webSocketKey, options.subprotocol, target);
      if (problem !== null || settled) {
        socket.destroy();
        settle(problem);
        return;
      }
      socket.setNoDelay(true);
      socket.setTimeout(0);
      settle(null, { socket, headBytes: head, nextMaskKey: maskKeysFor(url) });
    });
    request.on("response", (response: IncomingMessage) => {
      readBody(response).then(
        (body) => settle(classifyHandshakeFailure(response.statusCode ?? 0, body, target)),
        (error: unknown) => settle(networkFailure(error, target)),
      );
    });
    request.on("error", (error: Error) => settle(networkFailure(error, target)));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    request.end();
  });
}

async function readBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    const buffer = chunk as Buffer;
    if (size < MAX_ERROR_BODY_BYTES) chunks.push(buffer.subarray(0, MAX_ERROR_BODY_BYTES - size));
    size += buffer.length;
  }
  return Buffer.concat(chunks).toString("utf8");
}
