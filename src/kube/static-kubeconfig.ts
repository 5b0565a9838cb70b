/**
 * A `KubeConnection` (kube/connection.ts) for credentials that are certificates and tokens: the
 * in-cluster service account, and kubeconfigs that kube/kubeconfig-document.ts found need no
 * plugin. It is what the controller and the gateway run with.
 *
 * Contract:
 *  - CA, client certificate and key are read once, when it is built (a missing file fails the
 *    start with its path). `-data` fields win over files, as in kubectl.
 *  - A token file (the service account's projected token, which the kubelet rotates) is read
 *    again when the token in hand is older than TOKEN_REREAD_MS, client-go's period for the same
 *    file. If a re-read fails, the token in hand is kept; only a first read that fails rejects.
 *  - One agent for every request and dial, with keep-alive: connections and TLS sessions are
 *    shared instead of paying a handshake per request (undici's pool did this before, for a
 *    controller reconciling 1,000 PortForwards a quarter of its CPU without it).
 *  - The token never appears in an error or a log line.
 */
import { readFileSync } from "node:fs";
import type { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent, type RequestOptions } from "node:https";
import { nodeHttp } from "../runtime/node-http.ts";
import type { KubeConnection } from "./connection.ts";
import type { StaticCredentials } from "./kubeconfig-document.ts";
import { KubeConfigError } from "./kubeconfig-error.ts";

/** How old a token read from a file may get before it is read again (client-go: one minute). */
export const TOKEN_REREAD_MS = 60_000;

/** The service account files of a pod (the kubelet mounts them there). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface StaticKubeConfigIo {
  readonly readFile: (path: string) => string;
  readonly now: () => number;
}

const systemIo: StaticKubeConfigIo = { readFile: (path) => readFileSync(path, "utf8"), now: () => Date.now() };

interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  rejectUnauthorized: boolean;
}

export class StaticKubeConfig implements KubeConnection {
  readonly #cluster: { readonly server: string };
  readonly #tls: TlsOptions;
  readonly #agent: HttpAgent;
  readonly #tokenFile: string | undefined;
  readonly #io: StaticKubeConfigIo;
  #token: string | undefined;
  #tokenReadAt = Number.NEGATIVE_INFINITY;

  constructor(credentials: StaticCredentials, io: StaticKubeConfigIo = systemIo) {
    this.#io = io;
    this.#cluster = { server: credentials.server };
    const pem = (data: string | undefined, file: string | undefined, what: string): string | undefined =>
      data ?? (file === undefined ? undefined : readCredentialFile(io, file, what));
    this.#tls = {
      ca: pem(credentials.caData, credentials.caFile, "certificate authority"),
      cert: pem(credentials.certData, credentials.certFile, "client certificate"),
      key: pem(credentials.keyData, credentials.keyFile, "client key"),
      servername: credentials.tlsServerName,
      rejectUnauthorized: credentials.insecureSkipTlsVerify !== true,
    };
    this.#agent = credentials.server.startsWith("http:")
      ? new nodeHttp.Agent({ keepAlive: true })
      : new HttpsAgent({ keepAlive: true, ...this.#tls });
    this.#token = credentials.token;
    this.#tokenFile = credentials.token === undefined ? credentials.tokenFile : undefined;
  }

  getCurrentCluster(): { readonly server: string } {
    return this.#cluster;
  }

  async applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    Object.assign(options, this.#tls);
    options.agent = this.#agent;
    const token = this.#currentToken();
    if (token !== undefined) options.headers = { ...options.headers, Authorization: `Bearer ${token}` };
  }

  #currentToken(): string | undefined {
    if (this.#tokenFile === undefined) return this.#token;
    const now = this.#io.now();
    if (now - this.#tokenReadAt < TOKEN_REREAD_MS) return this.#token;
    try {
      this.#token = this.#io.readFile(this.#tokenFile).trim();
      this.#tokenReadAt = now;
    } catch (cause) {
      if (this.#token === undefined) throw new KubeConfigError(`Could not read the token file ${this.#tokenFile}`, { cause });
    }
    return this.#token;
  }
}

function readCredentialFile(io: StaticKubeConfigIo, path: string, what: string): string {
  try {
    return io.readFile(path);
  } catch (cause) {
    throw new KubeConfigError(`Could not read the ${what} file ${path} named by the kubeconfig`, { cause });
  }
}

/**
 * The in-cluster service account's credentials, as client-go's InClusterConfig finds them:
 * `KUBERNETES_SERVICE_HOST`/`_PORT`, and the CA and token the kubelet mounts. Undefined when the
 * environment does not name a cluster.
 */
export function inClusterCredentials(env: NodeJS.ProcessEnv = process.env): StaticCredentials | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host === undefined || host === "" || port === undefined || port === "") return undefined;
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`,
    tokenFile: `${SERVICE_ACCOUNT_DIR}/token`,
  };
}
