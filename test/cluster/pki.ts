/**
 * The test control plane's PKI, made with the openssl CLI (EC P-256, valid 7 days):
 * one CA that signs the API server's serving certificate and every client certificate,
 * plus the service-account signing key pair.
 *
 * Client identities are what RBAC sees: `admin` is in `system:masters`; `tester` has no
 * group at all, so every RBAC and admission-policy denial can be tested with it.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ClientIdentity {
  readonly user: string;
  readonly groups: readonly string[];
}

export const ADMIN: ClientIdentity = { user: "admin", groups: ["system:masters"] };
export const UNPRIVILEGED: ClientIdentity = { user: "tester", groups: [] };
export const CONTROLLER_MANAGER: ClientIdentity = { user: "system:kube-controller-manager", groups: [] };
/** The API server's identity toward kubelets (the real node's kubelet authenticates it by this CA). */
export const KUBELET_CLIENT: ClientIdentity = { user: "kube-apiserver-kubelet-client", groups: ["system:masters"] };

export interface Pki {
  readonly caCert: string;
  readonly caKey: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
  /** Paths of `<name>.crt`/`<name>.key` for each issued client identity. */
  clientCert(identity: ClientIdentity): { cert: string; key: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function fileBase(identity: ClientIdentity): string {
  return `client-${identity.user.replace(/[^a-zA-Z0-9-]/g, "_")}`;
}

function subject(identity: ClientIdentity): string {
  return [...identity.groups.map((g) => `/O=${g}`), `/CN=${identity.user}`].join("");
}

function issue(dir: string, base: string, subj: string, extensions: string, ca = { cert: "ca.crt", key: "ca.key" }): void {
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${base}.key`], dir);
  openssl(["req", "-new", "-key", `${base}.key`, "-subj", subj, "-out", `${base}.csr`], dir);
  writeFileSync(join(dir, `${base}.ext`), extensions);
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${base}.csr`,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-days",
      "7",
      "-sha256",
      "-extfile",
      `${base}.ext`,
      "-out",
      `${base}.crt`,
    ],
    dir,
  );
}

const CLIENT_EXTENSIONS = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n";

/**
 * Issues one more client certificate from an existing PKI's CA (the real node's kubelet,
 * kube-proxy, scheduler and CoreDNS identities) into `dir`; returns its files.
 */
export function issueClientCert(dir: string, ca: { cert: string; key: string }, identity: ClientIdentity): { cert: string; key: string } {
  const base = fileBase(identity);
  issue(dir, base, subject(identity), CLIENT_EXTENSIONS, ca);
  return { cert: join(dir, `${base}.crt`), key: join(dir, `${base}.key`) };
}

/** Writes a kubeconfig for a certificate pair and CA file (not necessarily of the suite's PKI). */
export function writeCertKubeconfig(
  path: string,
  server: string,
  caCert: string,
  client: { cert: string; key: string },
  user: string,
): string {
  const b64 = (file: string) => readFileSync(file).toString("base64");
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "tunnelkeeper-test", cluster: { server, "certificate-authority-data": b64(caCert) } }],
    users: [{ name: user, user: { "client-certificate-data": b64(client.cert), "client-key-data": b64(client.key) } }],
    contexts: [{ name: user, context: { cluster: "tunnelkeeper-test", user } }],
    "current-context": user,
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return path;
}

/** Creates the PKI in `dir` for the given client identities. */
export function createPki(dir: string, identities: readonly ClientIdentity[]): Pki {
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"], dir);
  openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-subj",
      "/CN=tunnelkeeper-test-ca",
      "-days",
      "7",
      "-sha256",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  issue(
    dir,
    "serving",
    "/CN=kube-apiserver",
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1",
      "",
    ].join("\n"),
  );
  for (const identity of identities) issue(dir, fileBase(identity), subject(identity), CLIENT_EXTENSIONS);
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"], dir);
  openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  return {
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    servingCert: join(dir, "serving.crt"),
    servingKey: join(dir, "serving.key"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPub: join(dir, "sa.pub"),
    clientCert: (identity) => ({ cert: join(dir, `${fileBase(identity)}.crt`), key: join(dir, `${fileBase(identity)}.key`) }),
  };
}

/** Writes a kubeconfig with the CA and the client certificate embedded; returns its path. */
export function writeKubeconfig(path: string, server: string, pki: Pki, identity: ClientIdentity): string {
  return writeCertKubeconfig(path, server, pki.caCert, pki.clientCert(identity), identity.user);
}
