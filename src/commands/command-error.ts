/**
 * A command that cannot go on for a reason its user can fix: main.ts prints the message as one
 * line (`error: <reason>; <what to do>`) and exits 1, never with a stack trace.
 *
 * `describeFailure` turns the other expected failures (a kubeconfig that does not load, an API
 * server that answers with an error or not at all) into the same one line; anything else is a
 * bug and keeps its stack.
 */
import { statusCodeOf, statusOf } from "../kube/errors.ts";
import { KubeConfigError } from "../kube/kubeconfig-error.ts";

export class CommandError extends Error {
  readonly code = "PF_ERR_COMMAND";
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EHOSTUNREACH", "ETIMEDOUT", "EAI_AGAIN", "CERT_HAS_EXPIRED"]);

function networkCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && (NETWORK_CODES.has(code) || code.startsWith("UND_ERR_") || code.startsWith("ERR_TLS"))) return code;
  }
  return undefined;
}

/** One line for an expected failure, or undefined for a bug. */
export function describeFailure(error: unknown): string | undefined {
  if (error instanceof CommandError) return error.message;
  if (error instanceof KubeConfigError) {
    const said = error.cause instanceof Error ? error.cause.message.trim() : "";
    const cause = said === "" || error.message.includes(said) ? "" : `: ${said}`;
    return `${error.message}${cause}; pass --kubeconfig or --context, or set KUBECONFIG`;
  }
  const code = statusCodeOf(error);
  if (code !== undefined) {
    const status = statusOf(error);
    const what = status?.message ?? (error instanceof Error ? error.message.split("\n")[0] : String(error));
    const hint =
      code === 401
        ? "; your credentials were rejected, check the kubeconfig user"
        : code === 403
          ? "; ask for the RBAC permission named above"
          : "";
    return `the API server answered ${code}${status?.reason ? ` ${status.reason}` : ""}: ${what}${hint}`;
  }
  const network = networkCode(error);
  if (network !== undefined) {
    return `cannot reach the API server (${network}: ${error instanceof Error ? error.message : String(error)}); check --kubeconfig/--context and that the cluster is up`;
  }
  return undefined;
}
