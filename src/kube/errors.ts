/**
 * The one place that maps Kubernetes API failures to meaning. Callers ask `isNotFound(err)`,
 * never look at status codes or message text themselves.
 *
 * Shapes recognised (all from @kubernetes/client-node 2.x or our own `kube/request.ts`):
 * - `ApiException`: `code` is the HTTP status; `body` is the response body, either a parsed
 *   `Status` object or its JSON text (the generated clients pass the raw text for non-2xx).
 * - `Watch` HTTP errors: an `Error` with `statusCode`.
 * - A `Status` object itself (`{kind: "Status", code, reason}`), as delivered in a watch `ERROR` event.
 * - Network failures carry no status at all (`isTransient` treats them as retryable).
 */

/** metav1.Status, the parts we read. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
}

/** The `Status` carried by `err` (parsing a JSON text body), if any. */
export function statusOf(err: unknown): KubeStatus | undefined {
  const record = asRecord(err);
  if (record === undefined) return undefined;
  if (record.kind === "Status") return record as KubeStatus;
  let body = record.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      // A non-JSON body (HTML from a proxy, plain text) carries no Status; the code still counts.
      return undefined;
    }
  }
  const status = asRecord(body);
  return status?.kind === "Status" ? (status as KubeStatus) : undefined;
}

/** The HTTP status code of a failed API call, or undefined for network-level failures. */
export function statusCodeOf(err: unknown): number | undefined {
  const record = asRecord(err);
  if (record === undefined) return undefined;
  for (const candidate of [record.code, record.statusCode]) {
    if (typeof candidate === "number" && candidate >= 100 && candidate < 600) return candidate;
  }
  const code = statusOf(err)?.code;
  return typeof code === "number" ? code : undefined;
}

/** `metav1.StatusReason` (e.g. `NotFound`, `AlreadyExists`, `Conflict`, `Expired`), if known. */
export function reasonOf(err: unknown): string | undefined {
  return statusOf(err)?.reason;
}

export function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

/** 409 from an optimistic-concurrency failure (stale resourceVersion), not from a create. */
export function isConflict(err: unknown): boolean {
  return statusCodeOf(err) === 409 && reasonOf(err) !== "AlreadyExists";
}

/** 409 with reason AlreadyExists: a create found the name taken. */
export function isAlreadyExists(err: unknown): boolean {
  return statusCodeOf(err) === 409 && reasonOf(err) === "AlreadyExists";
}

/** 410 Gone / reason Expired: the resourceVersion is too old; the informer must relist. */
export function isGone(err: unknown): boolean {
  const reason = reasonOf(err);
  return statusCodeOf(err) === 410 || reason === "Expired" || reason === "Gone";
}

export function isForbidden(err: unknown): boolean {
  return statusCodeOf(err) === 403;
}

export function isUnauthorized(err: unknown): boolean {
  return statusCodeOf(err) === 401;
}

/** 422 Invalid (admission or schema validation rejected the object). */
export function isInvalid(err: unknown): boolean {
  return statusCodeOf(err) === 422;
}

/** 400 BadRequest. */
export function isBadRequest(err: unknown): boolean {
  return statusCodeOf(err) === 400;
}

export function isTooManyRequests(err: unknown): boolean {
  return statusCodeOf(err) === 429;
}

/** Server-side or gateway timeouts (504, reason Timeout/ServerTimeout). */
export function isTimeout(err: unknown): boolean {
  const reason = reasonOf(err);
  return statusCodeOf(err) === 504 || reason === "Timeout" || reason === "ServerTimeout";
}

/**
 * Worth retrying with backoff: network failures (no status code), 409 Conflict, 429, timeouts and
 * 5xx. Not retryable as-is: 400, 401, 403, 404, 410, 422 (retrying the same request won't help; the
 * caller re-reads state or reports a condition).
 */
export function isTransient(err: unknown): boolean {
  const code = statusCodeOf(err);
  if (code === undefined) return true;
  return isConflict(err) || code === 429 || code >= 500 || isTimeout(err);
}

/**
 * The system or TLS error code of a network-level failure (`ECONNREFUSED`, `ENOTFOUND`,
 * `DEPTH_ZERO_SELF_SIGNED_CERT`, …), looked for along the `cause` chain, where fetch puts it.
 */
export function networkErrorCodeOf(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== undefined; depth++) {
    const record = asRecord(current);
    if (record === undefined) return undefined;
    if (typeof record.code === "string") return record.code;
    current = record.cause;
  }
  return undefined;
}

/** Whether a network error code means the TLS handshake failed (certificate or protocol). */
export function isTlsErrorCode(code: string): boolean {
  return /CERT|SSL|TLS|SELF_SIGNED|VERIFY|EPROTO|ISSUER/.test(code);
}
