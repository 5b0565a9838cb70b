/**
 * Structured logger, one record per line: JSON for machines (the default; the Deployments keep
 * it), or short text lines for people on a terminal (`format: "text"`, the same record
 * rendered as `15:04:05 Message key=value ...`, errors by their message only).
 *
 * Record shape: `{"ts":"<ISO-8601>","level":"info","msg":"Reconciled PortForward", ...bound, ...fields}`.
 * Messages follow the Kubernetes style: capitalised, past tense, kind named, details as key/values
 * (`log.info("Applied Service", { service: "ns/name" })`), never interpolated into the message.
 *
 * Redaction: any field (at any depth, including bound fields and error properties) whose name looks
 * like a credential — token, password, authorization, cookie, credential, client secret, private key,
 * `*-key-data`, `*-certificate-data`, certificate-authority data — is replaced with `[REDACTED]`;
 * `Bearer <token>` inside string values is masked too. The kubeconfig and Secrets must still never
 * be logged on purpose; redaction is the safety net.
 *
 * No singleton: `main.ts` creates the root logger and passes it (or children) down.
 */

export type LogLevel = "error" | "warn" | "info" | "debug";

export type LogFields = Readonly<Record<string, unknown>>;

/** Receives one serialised record (without a trailing newline). */
export type LogSink = (line: string) => void;

export type LogFormat = "json" | "text";

const SEVERITY: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export const REDACTED = "[REDACTED]";

const SENSITIVE_FIELD =
  /token|passw(or)?d|authorization|cookie|credential|client-?secret|private-?key|key-?data|cert(ificate)?-?data|authority-?data|^secret$/i;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;

export function isSensitiveField(name: string): boolean {
  return SENSITIVE_FIELD.test(name);
}

export interface LoggerOptions {
  /** Most verbose level written; default `info`. */
  level?: LogLevel;
  /** Default: write the line plus `\n` to stdout. */
  sink?: LogSink;
  /** Default `Date.now`. */
  now?: () => number;
  /** Default `json`. */
  format?: LogFormat;
}

export class Logger {
  readonly level: LogLevel;
  readonly #sink: LogSink;
  readonly #now: () => number;
  readonly #format: LogFormat;
  readonly #bound: LogFields;

  constructor(options: LoggerOptions = {}, bound: LogFields = {}) {
    this.level = options.level ?? "info";
    this.#sink = options.sink ?? writeToStdout;
    this.#now = options.now ?? Date.now;
    this.#format = options.format ?? "json";
    this.#bound = bound;
  }

  /** A logger that adds `fields` to every record (later keys win over earlier ones). */
  child(fields: LogFields): Logger {
    return new Logger({ level: this.level, sink: this.#sink, now: this.#now, format: this.#format }, { ...this.#bound, ...fields });
  }

  isEnabled(level: LogLevel): boolean {
    return SEVERITY[level] <= SEVERITY[this.level];
  }

  error(msg: string, fields?: LogFields): void {
    this.#write("error", msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.#write("warn", msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.#write("info", msg, fields);
  }

  debug(msg: string, fields?: LogFields): void {
    this.#write("debug", msg, fields);
  }

  #write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (!this.isEnabled(level)) return;
    const record: Record<string, unknown> = { ts: new Date(this.#now()).toISOString(), level, msg: redactString(msg) };
    const seen = new WeakSet<object>();
    for (const source of [this.#bound, fields ?? {}]) {
      for (const [k, v] of Object.entries(source)) {
        if (k === "ts" || k === "level" || k === "msg") continue;
        record[k] = isSensitiveField(k) ? REDACTED : sanitize(v, seen, 0);
      }
    }
    this.#sink(this.#format === "json" ? JSON.stringify(record) : formatText(record));
  }
}

const TEXT_PREFIX: Record<LogLevel, string> = { error: "error: ", warn: "warning: ", info: "", debug: "debug: " };

/** `15:04:05 warning: Failed to renew the Lease namespace=x error="connect ECONNREFUSED ..."`. */
function formatText(record: Record<string, unknown>): string {
  const { ts, level, msg, ...fields } = record;
  const time = typeof ts === "string" ? ts.slice(11, 19) : "";
  const pairs = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${textValue(v)}`);
  return [time, `${TEXT_PREFIX[level as LogLevel] ?? ""}${String(msg)}`, ...pairs].join(" ");
}

function textValue(value: unknown): string {
  // Serialised errors show their message (and cause's), not the stack: this is for people.
  const record = value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  if (record !== undefined && typeof record.message === "string" && typeof record.name === "string") {
    const cause = record.cause as { message?: unknown } | undefined;
    const text = typeof cause?.message === "string" ? `${record.message}: ${cause.message}` : record.message;
    return JSON.stringify(text);
  }
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** Creates a root logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return new Logger(options);
}

function writeToStdout(line: string): void {
  process.stdout.write(`${line}\n`);
}

function redactString(value: string): string {
  return value.replace(BEARER, `$1 ${REDACTED}`);
}

const MAX_DEPTH = 8;

/** Copies `value` into plain JSON data with sensitive fields redacted and errors expanded. */
function sanitize(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === "string") return redactString(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function" || typeof value === "symbol") return undefined;
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[Circular]";
  if (depth >= MAX_DEPTH) return "[Truncated]";
  seen.add(value);
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
  if (value instanceof Error) return serializeError(value, seen, depth);
  if (Array.isArray(value)) return value.map((v) => sanitize(v, seen, depth + 1));
  if (value instanceof Map) return sanitize(Object.fromEntries(value), seen, depth);
  if (value instanceof Set) return sanitize([...value], seen, depth);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSensitiveField(k) ? REDACTED : sanitize(v, seen, depth + 1);
  return out;
}

function serializeError(error: Error, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: redactString(error.message) };
  for (const [k, v] of Object.entries(error)) {
    // ApiException carries response headers and body; headers may echo credentials.
    if (k === "headers") continue;
    out[k] = isSensitiveField(k) ? REDACTED : sanitize(v, seen, depth + 1);
  }
  if (error.cause !== undefined) out.cause = sanitize(error.cause, seen, depth + 1);
  if (error.stack !== undefined) out.stack = redactString(error.stack);
  return out;
}
