/**
 * What a kubeconfig asks of us, decided from its parsed documents. Pure: files are read and
 * parsed by the caller (kube/client.ts), credentials files are named here and read later.
 *
 * Merging follows kubectl: with several files (KUBECONFIG style), the first file that names a
 * cluster, user or context wins, and so does the first non-empty current-context. A relative
 * path in a file (certificate-authority, client-certificate, client-key, tokenFile) is relative
 * to that file's directory.
 *
 * The outcome for the selected context (`context`, else current-context):
 *  - `static`: the cluster and user need nothing but certificates and tokens, which
 *    `StaticKubeConfig` serves on its own;
 *  - `plugins`: the user or cluster sets a field only @kubernetes/client-node implements (exec,
 *    auth-provider, basic auth, impersonation, proxy-url); `field` names the first one found.
 * A context or cluster that cannot be found raises KubeConfigError with the fix.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { KubeConfigError } from "./kubeconfig-error.ts";

/** One kubeconfig file: where it was read from, and its YAML parsed (anything at all). */
export interface KubeconfigFile {
  readonly path: string;
  readonly document: unknown;
}

/** The credentials of a context that `StaticKubeConfig` can serve. Paths are absolute. */
export interface StaticCredentials {
  readonly server: string;
  readonly caFile?: string;
  /** PEM, decoded from `certificate-authority-data`. */
  readonly caData?: string;
  readonly insecureSkipTlsVerify?: boolean;
  readonly tlsServerName?: string;
  readonly certFile?: string;
  readonly certData?: string;
  readonly keyFile?: string;
  readonly keyData?: string;
  readonly token?: string;
  readonly tokenFile?: string;
}

export type KubeconfigChoice =
  | { readonly kind: "static"; readonly credentials: StaticCredentials; readonly namespace?: string }
  | { readonly kind: "plugins"; readonly field: string };

/** User and cluster fields that only @kubernetes/client-node implements. */
const PLUGIN_USER_FIELDS = ["exec", "auth-provider", "username", "password", "as", "as-groups", "as-uid", "as-user-extra"];
const PLUGIN_CLUSTER_FIELDS = ["proxy-url"];

type Fields = Readonly<Record<string, unknown>>;

interface Merged {
  readonly clusters: Map<string, Fields>;
  readonly users: Map<string, Fields>;
  readonly contexts: Map<string, Fields>;
  currentContext: string | undefined;
}

function fields(value: unknown): Fields | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** Entries of a named list (`clusters`, `users`, `contexts`): each `{name, <inner>: {...}}`. */
function namedEntries(list: unknown, inner: string): [string, Fields][] {
  if (!Array.isArray(list)) return [];
  const entries: [string, Fields][] = [];
  for (const item of list) {
    const entry = fields(item);
    const name = text(entry?.name);
    if (name !== undefined) entries.push([name, fields(entry?.[inner]) ?? {}]);
  }
  return entries;
}

const PATH_FIELDS = ["certificate-authority", "client-certificate", "client-key", "tokenFile"];

function withAbsolutePaths(entry: Fields, directory: string): Fields {
  const out: Record<string, unknown> = { ...entry };
  for (const field of PATH_FIELDS) {
    const path = text(entry[field]);
    if (path !== undefined && !isAbsolute(path)) out[field] = resolve(directory, path);
  }
  return out;
}

function merge(files: readonly KubeconfigFile[]): Merged {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: undefined };
  for (const file of files) {
    const document = fields(file.document) ?? {};
    const directory = dirname(file.path);
    const add = (into: Map<string, Fields>, list: unknown, inner: string): void => {
      for (const [name, entry] of namedEntries(list, inner)) {
        if (!into.has(name)) into.set(name, withAbsolutePaths(entry, directory));
      }
    };
    add(merged.clusters, document.clusters, "cluster");
    add(merged.users, document.users, "user");
    add(merged.contexts, document.contexts, "context");
    merged.currentContext ??= text(document["current-context"]);
  }
  return merged;
}

function decodedData(entry: Fields, field: string): string | undefined {
  const data = text(entry[field]);
  return data === undefined ? undefined : Buffer.from(data, "base64").toString("utf8");
}

/** Decides how to serve `files` (in KUBECONFIG order) for `context` (default: current-context). */
export function chooseKubeconfig(files: readonly KubeconfigFile[], context?: string): KubeconfigChoice {
  const merged = merge(files);
  const where = files.map((file) => file.path).join(":");
  if (context !== undefined && !merged.contexts.has(context)) {
    throw new KubeConfigError(`Context ${JSON.stringify(context)} is not in the kubeconfig`);
  }
  const contextName = context ?? merged.currentContext;
  const selected = contextName === undefined ? undefined : merged.contexts.get(contextName);
  const cluster = merged.clusters.get(text(selected?.cluster) ?? "");
  const server = text(cluster?.server);
  if (selected === undefined || cluster === undefined || server === undefined) {
    throw new KubeConfigError(`The kubeconfig ${where} has no usable current cluster`);
  }
  const user = merged.users.get(text(selected.user) ?? "") ?? {};
  const pluginField =
    PLUGIN_USER_FIELDS.find((field) => user[field] !== undefined && user[field] !== null) ??
    PLUGIN_CLUSTER_FIELDS.find((field) => text(cluster[field]) !== undefined);
  if (pluginField !== undefined) return { kind: "plugins", field: pluginField };
  const credentials: StaticCredentials = {
    server,
    caFile: text(cluster["certificate-authority"]),
    caData: decodedData(cluster, "certificate-authority-data"),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
    tlsServerName: text(cluster["tls-server-name"]),
    certFile: text(user["client-certificate"]),
    certData: decodedData(user, "client-certificate-data"),
    keyFile: text(user["client-key"]),
    keyData: decodedData(user, "client-key-data"),
    token: text(user.token),
    tokenFile: text(user.tokenFile),
  };
  const namespace = text(selected.namespace);
  return { kind: "static", credentials: withoutUndefined(credentials), ...(namespace === undefined ? {} : { namespace }) };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
