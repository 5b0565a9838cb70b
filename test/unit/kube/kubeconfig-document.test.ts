import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseKubeconfig, type KubeconfigFile } from "../../../src/kube/kubeconfig-document.ts";
import { KubeConfigError } from "../../../src/kube/kubeconfig-error.ts";

const b64 = (text: string): string => Buffer.from(text).toString("base64");

function file(path: string, parts: { clusters?: unknown[]; users?: unknown[]; contexts?: unknown[]; current?: string }): KubeconfigFile {
  return {
    path,
    document: {
      apiVersion: "v1",
      kind: "Config",
      clusters: parts.clusters ?? [],
      users: parts.users ?? [],
      contexts: parts.contexts ?? [],
      ...(parts.current === undefined ? {} : { "current-context": parts.current }),
    },
  };
}

const cluster = (name: string, fields: Record<string, unknown>) => ({ name, cluster: { server: `https://${name}:6443`, ...fields } });
const user = (name: string, fields: Record<string, unknown>) => ({ name, user: fields });
const context = (name: string, fields: Record<string, unknown>) => ({ name, context: fields });

describe("chooseKubeconfig", () => {
  it("serves inline certificates itself, decoded, with the context's namespace", () => {
    const choice = chooseKubeconfig([
      file("/home/me/.kube/config", {
        clusters: [cluster("kwok", { "certificate-authority-data": b64("CA PEM"), "tls-server-name": "api.local" })],
        users: [user("admin", { "client-certificate-data": b64("CERT PEM"), "client-key-data": b64("KEY PEM") })],
        contexts: [context("kwok", { cluster: "kwok", user: "admin", namespace: "team-a" })],
        current: "kwok",
      }),
    ]);
    assert.deepEqual(choice, {
      kind: "static",
      credentials: {
        server: "https://kwok:6443",
        caData: "CA PEM",
        insecureSkipTlsVerify: false,
        tlsServerName: "api.local",
        certData: "CERT PEM",
        keyData: "KEY PEM",
      },
      namespace: "team-a",
    });
  });

  it("resolves relative file paths against the directory of the file that names them", () => {
    const choice = chooseKubeconfig([
      file("/etc/kube/a.yaml", {
        clusters: [cluster("c", { "certificate-authority": "pki/ca.crt", "insecure-skip-tls-verify": true })],
        users: [user("u", { "client-certificate": "/abs/cert.pem", "client-key": "key.pem", tokenFile: "../token" })],
        contexts: [context("ctx", { cluster: "c", user: "u" })],
        current: "ctx",
      }),
    ]);
    assert.equal(choice.kind, "static");
    assert.deepEqual(choice.kind === "static" && choice.credentials, {
      server: "https://c:6443",
      caFile: "/etc/kube/pki/ca.crt",
      insecureSkipTlsVerify: true,
      certFile: "/abs/cert.pem",
      keyFile: "/etc/kube/key.pem",
      tokenFile: "/etc/token",
    });
  });

  it("merges files the way kubectl does: the first name and the first current-context win", () => {
    const first = file("/a/config", {
      clusters: [cluster("shared", { "certificate-authority-data": b64("FIRST") })],
      users: [user("u", { token: "first-token" })],
      contexts: [context("ctx", { cluster: "shared", user: "u" })],
    });
    const second = file("/b/config", {
      clusters: [cluster("shared", { "certificate-authority-data": b64("SECOND") }), cluster("other", {})],
      users: [user("u", { token: "second-token" })],
      contexts: [context("ctx", { cluster: "other", user: "u" }), context("second", { cluster: "other", user: "u" })],
      current: "ctx",
    });
    const third = file("/c/config", { current: "second" });
    const choice = chooseKubeconfig([first, second, third]);
    assert.ok(choice.kind === "static");
    assert.equal(choice.credentials.caData, "FIRST");
    assert.equal(choice.credentials.token, "first-token");
    assert.equal(chooseKubeconfig([first, second], "second").kind, "static");
  });

  for (const [field, value] of [
    ["exec", { apiVersion: "client.authentication.k8s.io/v1", command: "aws" }],
    ["auth-provider", { name: "oidc" }],
    ["username", "admin"],
    ["as", "someone"],
  ] as const) {
    it(`leaves a user with "${field}" to @kubernetes/client-node`, () => {
      const choice = chooseKubeconfig([
        file("/k", {
          clusters: [cluster("c", {})],
          users: [user("u", { [field]: value })],
          contexts: [context("x", { cluster: "c", user: "u" })],
          current: "x",
        }),
      ]);
      assert.deepEqual(choice, { kind: "plugins", field });
    });
  }

  it("leaves a cluster behind a proxy to @kubernetes/client-node", () => {
    const choice = chooseKubeconfig([
      file("/k", {
        clusters: [cluster("c", { "proxy-url": "socks5://localhost:1080" })],
        contexts: [context("x", { cluster: "c" })],
        current: "x",
      }),
    ]);
    assert.deepEqual(choice, { kind: "plugins", field: "proxy-url" });
  });

  it("says which context is missing, and when there is no usable cluster", () => {
    const config = file("/k", { clusters: [cluster("c", {})], contexts: [context("x", { cluster: "gone" })], current: "x" });
    assert.throws(
      () => chooseKubeconfig([config], "nope"),
      (error: unknown) => {
        assert.ok(error instanceof KubeConfigError);
        assert.equal(error.message, 'Context "nope" is not in the kubeconfig');
        return true;
      },
    );
    assert.throws(() => chooseKubeconfig([config]), /The kubeconfig \/k has no usable current cluster/);
    assert.throws(() => chooseKubeconfig([{ path: "/empty", document: null }]), /The kubeconfig \/empty has no usable current cluster/);
  });
});
