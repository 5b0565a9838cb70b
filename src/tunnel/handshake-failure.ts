/**
 * Maps a failed WebSocket upgrade on `pods/portforward` to a coded TunnelError.
 *
 * Contract (portforward-protocol.md §3): the API server answers its own refusals (401, 403 RBAC,
 * 404, 400) with metav1.Status JSON, and copies upstream (kubelet/runtime) non-101 answers through
 * verbatim. Mapping: 401/403 → PF_ERR_FORBIDDEN, whose message names the permission to grant
 * (`get` and `create` on `pods/portforward`: a WebSocket upgrade is a GET, and from 1.35 it is
 * also checked as `create`); 404 → PF_ERR_POD_NOT_FOUND; any other status → PF_ERR_UPGRADE_FAILED;
 * no HTTP answer at all → PF_ERR_NETWORK. The Status `message` is kept when it parses.
 */

import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

export interface HandshakeTarget {
  readonly namespace: string;
  readonly pod: string;
  /** The subprotocol or channel protocol that was requested. */
  readonly protocol: string;
}

export class HandshakeError extends TunnelError {
  /** HTTP status of the refusal, or null for network failures. */
  readonly status: number | null;

  constructor(code: TunnelError["code"], message: string, status: number | null, cause?: unknown) {
    super(code, message, { cause });
    this.status = status;
  }
}

/** Extracts metav1.Status.message from a response body, if it is one. */
export function statusMessage(body: string): string | null {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null && "message" in parsed && typeof parsed.message === "string") {
      return parsed.message;
    }
  } catch {
    // Not JSON: upstream answers are copied through verbatim and may be plain text.
  }
  return null;
}

export function classifyHandshakeFailure(status: number, body: string, target: HandshakeTarget): HandshakeError {
  const detail = statusMessage(body) ?? body.trim().slice(0, 512);
  const suffix = detail === "" ? "" : `: ${detail}`;
  const where = `pod ${target.namespace}/${target.pod}`;
  if (status === 401 || status === 403) {
    return new HandshakeError(
      TunnelErrorCode.Forbidden,
      `port-forward to ${where} was refused with HTTP ${status}; the identity needs \`get\` and \`create\` on ` +
        `\`pods/portforward\` in namespace ${target.namespace}${suffix}`,
      status,
    );
  }
  if (status === 404) {
    return new HandshakeError(TunnelErrorCode.PodNotFound, `${where} was not found (HTTP 404)${suffix}`, status);
  }
  return new HandshakeError(
    TunnelErrorCode.UpgradeFailed,
    `the API server refused the ${target.protocol} upgrade for ${where} with HTTP ${status}${suffix}`,
    status,
  );
}

export function networkFailure(cause: unknown, target: HandshakeTarget): HandshakeError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new HandshakeError(
    TunnelErrorCode.Network,
    `could not reach the API server for pod ${target.namespace}/${target.pod}: ${reason}`,
    null,
    cause,
  );
}

export function subprotocolMismatch(offered: string, answered: string | undefined, target: HandshakeTarget): HandshakeError {
  return new HandshakeError(
    TunnelErrorCode.UpgradeFailed,
    `the API server answered subprotocol ${JSON.stringify(answered ?? "")} instead of ${offered} for pod ${target.namespace}/${target.pod}`,
    101,
  );
}
