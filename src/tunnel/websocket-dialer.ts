/**
 * Opens a WebSocket to `/api/v1/namespaces/{ns}/pods/{pod}/portforward` with the credentials and
 * TLS settings of a @kubernetes/client-node KubeConfig.
 *
 * Contract:
 *  - TLS, client certificates, bearer tokens, exec/auth-provider plugins, impersonation and
 *    proxies come from `kubeConfig.applyToHTTPSOptions(options)` (client-node 2.0.1), which
 *    fills `ca/cert/key`, `headers.Authorization`, and an `agent`.
 *  - Exactly one subprotocol is offered; a 101 with any other (or none) is PF_ERR_UPGRADE_FAILED.
 *    `ws` validates subprotocols as RFC 6455 tokens and `/` is not a token character, yet
 *    Kubernetes uses `SPDY/3.1+portforward.k8s.io`. So the header is sent by hand (not through
 *    ws's `protocols` argument), checked in the 'upgrade' listener, and removed from the
 *    response there so that ws's own check (no protocol requested ⇒ none may be answered)
 *    passes. `socket.protocol` is therefore '' on the returned socket; the caller knows which
 *    subprotocol it asked for and that it was answered.
 *  - Non-101 answers are read (≤ 64 KiB) and mapped by classifyHandshakeFailure; errors without
 *    an HTTP answer (DNS, TCP, TLS, handshake timeout) are PF_ERR_NETWORK; an aborted signal is
 *    PF_ERR_ABORTED. The promise resolves only with an OPEN WebSocket, binary type nodebuffer,
 *    without permessage-deflate (pointless for already-framed bytes, costly in CPU), and PAUSED:
 *    the transport that attaches resumes it, so early messages (v4 port prefixes) are not lost.
 *  - Masking: frames we send over wss:// carry the all-zero masking key (see `maskKeyFor`);
 *    over plaintext ws:// every frame gets a fresh random key, as RFC 6455 requires.
 */

import type { ClientRequest, IncomingMessage } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import WebSocket from "ws";
import { classifyHandshakeFailure, type HandshakeTarget, networkFailure, subprotocolMismatch } from "./handshake-failure.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface DialOptions {
  readonly kubeConfig: KubeConfig;
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
 * It is not free either: ws 8 masks in JavaScript unless the native `bufferutil` addon is
 * installed (Node 24 has no `http.websocketMask`), and even native masking copies every payload
 * byte once more. Profile of a 1 GiB upload: `_mask` plus the masked copy in `Sender.frame` were
 * about a third of the forwarder's CPU. With an all-zero key ws skips both (the frame still has
 * the MASK bit, which servers require; XOR with zero leaves the payload as it is), and the API
 * server's unmasking of zero bytes is a no-op in effect.
 *
 * Plaintext ws:// (an API server without TLS, test setups) keeps ws's default random keys, so
 * the wire there is what RFC 6455 expects. We do not add `bufferutil` for that path: it is a
 * native addon for a configuration production clusters do not use.
 */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

export function maskKeyFor(url: URL): ((mask: Buffer) => void) | undefined {
  return url.protocol === "wss:" ? zeroMask : undefined;
}

export async function dialWebSocket(options: DialOptions): Promise<WebSocket> {
  const target: HandshakeTarget = { namespace: options.namespace, pod: options.pod, protocol: options.subprotocol };
  const cluster = options.kubeConfig.getCurrentCluster();
  if (cluster === null) throw networkFailure(new Error("the kubeconfig has no current cluster"), target);
  const url = portForwardUrl(cluster.server, options.namespace, options.pod, options.ports);
  const generateMask = maskKeyFor(url);
  const requestOptions: WebSocket.ClientOptions = {};
  try {
    await options.kubeConfig.applyToHTTPSOptions(requestOptions);
  } catch (error) {
    throw new TunnelError(TunnelErrorCode.Forbidden, `could not obtain credentials from the kubeconfig: ${String(error)}`, {
      cause: error,
    });
  }
  options.signal?.throwIfAborted();
  return await new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(url, {
      ...requestOptions,
      headers: { ...requestOptions.headers, "Sec-WebSocket-Protocol": options.subprotocol },
      perMessageDeflate: false,
      ...(generateMask === undefined ? {} : { generateMask }),
      handshakeTimeout: options.handshakeTimeoutMs ?? 30_000,
      followRedirects: false,
    });
    socket.binaryType = "nodebuffer";
    let settled = false;
    let failure: TunnelError | null = null;
    const settle = (error: TunnelError | null): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener("abort", onAbort);
      if (error === null) {
        socket.off("error", onError);
        resolve(socket);
      } else {
        socket.on("error", () => {});
        if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
        reject(error);
      }
    };
    const onAbort = (): void => settle(new TunnelError(TunnelErrorCode.Aborted, "the dial was aborted"));
    const onError = (error: Error): void => settle(failure ?? networkFailure(error, target));
    socket.on("upgrade", (response: IncomingMessage) => {
      const answered = response.headers["sec-websocket-protocol"];
      delete response.headers["sec-websocket-protocol"];
      if (answered !== options.subprotocol) {
        failure = subprotocolMismatch(options.subprotocol, answered, target);
        socket.terminate();
      }
    });
    socket.on("unexpected-response", (request: ClientRequest, response: IncomingMessage) => {
      readBody(response).then(
        (body) => {
          settle(classifyHandshakeFailure(response.statusCode ?? 0, body, target));
          request.destroy();
        },
        (error: unknown) => settle(networkFailure(error, target)),
      );
    });
    // Paused until a transport attaches, so no message is emitted before anyone listens.
    socket.once("open", () => {
      socket.pause();
      settle(null);
    });
    socket.on("error", onError);
    options.signal?.addEventListener("abort", onAbort, { once: true });
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
