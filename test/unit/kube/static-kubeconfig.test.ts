import assert from "node:assert/strict";
import type { RequestOptions } from "node:https";
import { Agent } from "node:https";
import { describe, it } from "node:test";
import { KubeConfigError } from "../../../src/kube/kubeconfig-error.ts";
import { inClusterCredentials, StaticKubeConfig, TOKEN_REREAD_MS } from "../../../src/kube/static-kubeconfig.ts";

/** Files in memory, and a clock the test moves. */
function fakeIo(files: Record<string, string>) {
  const reads: string[] = [];
  const io = {
    now: 0,
    readFile: (path: string): string => {
      reads.push(path);
      const content = files[path];
      if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return content;
    },
  };
  return { files, reads, io: { readFile: io.readFile, now: () => io.now }, advance: (ms: number) => (io.now += ms) };
}

async function optionsOf(connection: StaticKubeConfig): Promise<RequestOptions> {
  const options: RequestOptions = {};
  await connection.applyToHTTPSOptions(options);
  return options;
}

describe("StaticKubeConfig", () => {
  it("applies TLS material, the token and one keep-alive agent shared by every request", async () => {
    const { io } = fakeIo({ "/ca.crt": "CA FILE" });
    const connection = new StaticKubeConfig(
      { server: "https://api:6443", caFile: "/ca.crt", certData: "CERT", keyData: "KEY", token: "t0k3n", tlsServerName: "api.local" },
      io,
    );
    assert.deepEqual(connection.getCurrentCluster(), { server: "https://api:6443" });
    const first = await optionsOf(connection);
    assert.equal(first.ca, "CA FILE");
    assert.equal(first.cert, "CERT");
    assert.equal(first.key, "KEY");
    assert.equal(first.servername, "api.local");
    assert.equal(first.rejectUnauthorized, true);
    assert.deepEqual(first.headers, { Authorization: "Bearer t0k3n" });
    assert.ok(first.agent instanceof Agent);
    assert.equal((first.agent as Agent & { keepAlive: boolean }).keepAlive, true);
    assert.equal((await optionsOf(connection)).agent, first.agent);
  });

  it("prefers -data over files, and skips verification only when asked", async () => {
    const { io, reads } = fakeIo({});
    const options = await optionsOf(
      new StaticKubeConfig({ server: "https://api", caData: "INLINE", caFile: "/never", insecureSkipTlsVerify: true }, io),
    );
    assert.equal(options.ca, "INLINE");
    assert.equal(options.rejectUnauthorized, false);
    assert.equal(options.headers, undefined);
    assert.deepEqual(reads, []);
  });

  it("fails at start with the path of a credential file it cannot read", () => {
    const { io } = fakeIo({});
    assert.throws(
      () => new StaticKubeConfig({ server: "https://api", keyFile: "/etc/missing.key" }, io),
      (error: unknown) =>
        error instanceof KubeConfigError && error.message === "Could not read the client key file /etc/missing.key named by the kubeconfig",
    );
  });

  it("re-reads a token file once the token is older than a minute, and keeps the old one if the file is gone", async () => {
    const { io, files, reads, advance } = fakeIo({ "/token": "first\n" });
    const connection = new StaticKubeConfig({ server: "https://api", tokenFile: "/token" }, io);
    assert.deepEqual((await optionsOf(connection)).headers, { Authorization: "Bearer first" });
    files["/token"] = "rotated";
    advance(TOKEN_REREAD_MS - 1);
    assert.deepEqual((await optionsOf(connection)).headers, { Authorization: "Bearer first" });
    advance(1);
    assert.deepEqual((await optionsOf(connection)).headers, { Authorization: "Bearer rotated" });
    delete files["/token"];
    advance(TOKEN_REREAD_MS);
    assert.deepEqual((await optionsOf(connection)).headers, { Authorization: "Bearer rotated" });
    assert.equal(reads.length, 3);
  });

  it("rejects a request when the token file was never readable, without the token in the message", async () => {
    const { io } = fakeIo({});
    const connection = new StaticKubeConfig({ server: "https://api", tokenFile: "/var/run/token" }, io);
    await assert.rejects(connection.applyToHTTPSOptions({}), /Could not read the token file \/var\/run\/token/);
  });
});

describe("inClusterCredentials", () => {
  it("names the service account's CA and token, and brackets an IPv6 host", () => {
    assert.deepEqual(inClusterCredentials({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }), {
      server: "https://10.96.0.1:443",
      caFile: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
      tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
    });
    assert.equal(
      inClusterCredentials({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" })?.server,
      "https://[fd00::1]:443",
    );
  });
  it("is undefined outside a cluster", () => {
    assert.equal(inClusterCredentials({}), undefined);
    assert.equal(inClusterCredentials({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }), undefined);
  });
});
