/**
 * Reading a remote cluster's kubeconfig out of a Secret, refusing everything that would make the
 * operator run a program or read a file of its own. Pure.
 *
 * Why an allowlist: a kubeconfig is user input that the operator acts on with its own process.
 * An `exec` plugin or `auth-provider` runs a command in the operator's container; `token-file`,
 * `client-certificate`, `client-key` and `certificate-authority` read files there (the operator's
 * own ServiceAccount token among them, which would then be sent to the remote server). So only
 * inline credentials are accepted, and the connection (kube/static-kubeconfig.ts) is built from
 * the accepted fields alone: a field this module does not know never reaches it.
 *
 * Accepted: the current context's cluster `server` (https), `certificate-authority-data`,
 * `tls-server-name`; its user's `token` or `client-certificate-data` + `client-key-data`; the
 * context's `namespace`. Refused, each with a message naming the field: exec, auth-provider,
 * token-file, client-certificate, client-key, certificate-authority, username/password,
 * impersonation, insecure-skip-tls-verify, proxy-url.
 *
 * Messages never contain credential values; `fingerprint` is a hash, so it may be logged.
 */
import { createHash } from "node:crypto";
import { parse as parseYaml } from "yaml";
import type { KubeConnection } from "../kube/connection.ts";
import type { StaticCredentials } from "../kube/kubeconfig-document.ts";
import { StaticKubeConfig } from "../kube/static-kubeconfig.ts";

export interface RemoteCredentials {
  readonly server: string;
  readonly caData?: string;
  readonly tlsServerName?: string;
  readonly token?: string;
  readonly certData?: string;
  readonly keyData?: string;
  /** The current context's namespace, when it names one. */
  readonly namespace?: string;
  /** sha256 of the accepted fields: equal for equal credentials, safe to log. */
  readonly fingerprint: string;
}

export type ParsedKubeconfig = { readonly ok: true; readonly value: RemoteCredentials } | { readonly ok: false; readonly message: string };

type Fields = Readonly<Record<string, unknown>>;

const REFUSED_USER_FIELDS: Readonly<Record<string, string>> = {
  exec: "an exec credential plugin would run a command inside the operator",
  "auth-provider": "an auth-provider plugin would run inside the operator",
  "token-file": "a token file would be read from the operator's own filesystem",
  "client-certificate": "a certificate file would be read from the operator's own filesystem",
  "client-key": "a key file would be read from the operator's own filesystem",
  username: "basic authentication is not supported by Kubernetes",
  password: "basic authentication is not supported by Kubernetes",
  as: "impersonation is not supported for remote clusters",
  "as-groups": "impersonation is not supported for remote clusters",
  "as-uid": "impersonation is not supported for remote clusters",
};

const REFUSED_CLUSTER_FIELDS: Readonly<Record<string, string>> = {
  "certificate-authority": "a CA file would be read from the operator's own filesystem",
  "insecure-skip-tls-verify": "the remote API server must be verified",
  "proxy-url": "proxies are not supported for remote clusters",
};

const FIX_INLINE = "use inline credentials: token, or client-certificate-data with client-key-data, and certificate-authority-data";

function record(value: unknown): Fields | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The entry named `name` of a kubeconfig list (`clusters`, `users`, `contexts`), its inner object. */
function named(list: unknown, name: string, inner: string): Fields | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry = list.map(record).find((item) => item?.name === name);
  return record(entry?.[inner]);
}

function refusal(fields: Fields, refused: Readonly<Record<string, string>>, where: string): string | undefined {
  for (const [field, why] of Object.entries(refused)) {
    const value = fields[field];
    if (value === undefined || value === null || value === false || value === "") continue;
    return `${where} sets "${field}", which is refused: ${why}; ${FIX_INLINE}`;
  }
  return undefined;
}

function fail(message: string): ParsedKubeconfig {
  return { ok: false, message };
}

export function parseRemoteKubeconfig(source: string): ParsedKubeconfig {
  let document: Fields | undefined;
  try {
    document = record(parseYaml(source) as unknown);
  } catch {
    return fail("the kubeconfig is not valid YAML; store a kubeconfig file, e.g. from `kubectl config view --minify --flatten`");
  }
  if (document === undefined) return fail("the kubeconfig is empty or not a mapping; store a kubeconfig file");
  const contextName = text(document["current-context"]);
  if (contextName === undefined) return fail('the kubeconfig has no "current-context"; set it to the context to use');
  const context = named(document.contexts, contextName, "context");
  if (context === undefined) return fail(`the kubeconfig's current-context "${contextName}" is not among its contexts`);
  const clusterName = text(context.cluster) ?? "";
  const userName = text(context.user) ?? "";
  const cluster = named(document.clusters, clusterName, "cluster");
  if (cluster === undefined) return fail(`context "${contextName}" names cluster "${clusterName}", which the kubeconfig does not define`);
  const user = named(document.users, userName, "user");
  if (user === undefined) return fail(`context "${contextName}" names user "${userName}", which the kubeconfig does not define`);
  const refused =
    refusal(user, REFUSED_USER_FIELDS, `user "${userName}"`) ?? refusal(cluster, REFUSED_CLUSTER_FIELDS, `cluster "${clusterName}"`);
  if (refused !== undefined) return fail(refused);
  return credentialsOf(cluster, user, text(context.namespace), clusterName, userName);
}

function credentialsOf(
  cluster: Fields,
  user: Fields,
  namespace: string | undefined,
  clusterName: string,
  userName: string,
): ParsedKubeconfig {
  const server = text(cluster.server);
  if (server === undefined || !server.startsWith("https://")) {
    return fail(`cluster "${clusterName}" needs an https:// "server" address of the remote API server`);
  }
  const token = text(user.token);
  const certData = text(user["client-certificate-data"]);
  const keyData = text(user["client-key-data"]);
  if (token === undefined && (certData === undefined || keyData === undefined)) {
    return fail(`user "${userName}" has no credentials; ${FIX_INLINE}`);
  }
  const fields = {
    server,
    caData: text(cluster["certificate-authority-data"]),
    tlsServerName: text(cluster["tls-server-name"]),
    token,
    certData: token === undefined ? certData : undefined,
    keyData: token === undefined ? keyData : undefined,
    namespace,
  };
  const accepted = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Omit<
    RemoteCredentials,
    "fingerprint"
  >;
  const fingerprint = createHash("sha256").update(JSON.stringify(accepted)).digest("hex").slice(0, 16);
  return { ok: true, value: { ...accepted, fingerprint } };
}

/** A connection holding exactly `credentials`, for requests and tunnels to the remote cluster. */
export function kubeConfigFor(credentials: RemoteCredentials): KubeConnection {
  const pem = (data: string | undefined): string | undefined =>
    data === undefined ? undefined : Buffer.from(data, "base64").toString("utf8");
  const decoded: StaticCredentials = {
    server: credentials.server,
    caData: pem(credentials.caData),
    tlsServerName: credentials.tlsServerName,
    token: credentials.token,
    certData: pem(credentials.certData),
    keyData: pem(credentials.keyData),
  };
  return new StaticKubeConfig(decoded);
}
