import assert from "node:assert/strict";
import type { RequestOptions } from "node:https";
import { describe, it } from "node:test";
import { kubeConfigFor, parseRemoteKubeconfig } from "../../../src/remote/remote-kubeconfig.ts";

const TOKEN = "s3cr3t-token-value";

function kubeconfig(user: string, cluster = 'server: "https://10.0.0.1:6443"\n    certificate-authority-data: Q0E=', extra = ""): string {
  return `apiVersion: v1
kind: Config
current-context: b
contexts:
- name: b
  context: {cluster: cb, user: ub${extra}}
clusters:
- name: cb
  cluster:
    ${cluster}
users:
- name: ub
  user:
    ${user}
`;
}

describe("parseRemoteKubeconfig", () => {
  it("accepts an inline token with its CA, and the context namespace", () => {
    const parsed = parseRemoteKubeconfig(kubeconfig(`token: ${TOKEN}`, undefined, ", namespace: apps"));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.server, "https://10.0.0.1:6443");
    assert.equal(parsed.value.caData, "Q0E=");
    assert.equal(parsed.value.token, TOKEN);
    assert.equal(parsed.value.namespace, "apps");
    assert.match(parsed.value.fingerprint, /^[0-9a-f]{16}$/);
  });

  it("accepts an inline client certificate and key", () => {
    const parsed = parseRemoteKubeconfig(kubeconfig("client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ"));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.certData, "Q0VSVA==");
    assert.equal(parsed.value.keyData, "S0VZ");
    assert.equal(parsed.value.token, undefined);
  });

  it("gives equal fingerprints for equal credentials and different ones after rotation", () => {
    const a = parseRemoteKubeconfig(kubeconfig(`token: ${TOKEN}`));
    const b = parseRemoteKubeconfig(kubeconfig(`token: ${TOKEN}`));
    const c = parseRemoteKubeconfig(kubeconfig("token: rotated"));
    assert.ok(a.ok && b.ok && c.ok);
    assert.equal(a.value.fingerprint, b.value.fingerprint);
    assert.notEqual(a.value.fingerprint, c.value.fingerprint);
  });

  for (const [field, user] of [
    ["exec", "exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}"],
    ["auth-provider", "auth-provider: {name: gcp}"],
    ["token-file", "token-file: /var/run/secrets/kubernetes.io/serviceaccount/token"],
    ["client-certificate", "client-certificate: /etc/cert.pem\n    client-key-data: S0VZ"],
    ["client-key", "client-certificate-data: Q0VSVA==\n    client-key: /etc/key.pem"],
    ["username", "username: admin\n    password: pw"],
    ["as", `token: ${TOKEN}\n    as: system:admin`],
  ] as const) {
    it(`refuses a user with ${field}, naming the field and the fix`, () => {
      const parsed = parseRemoteKubeconfig(kubeconfig(user));
      assert.equal(parsed.ok, false);
      assert.ok(!parsed.ok);
      assert.match(parsed.message, new RegExp(`"${field}"`));
      assert.match(parsed.message, /inline credentials/);
      assert.doesNotMatch(parsed.message, new RegExp(TOKEN));
    });
  }

  for (const [field, cluster] of [
    ["certificate-authority", 'server: "https://10.0.0.1:6443"\n    certificate-authority: /etc/ca.pem'],
    ["insecure-skip-tls-verify", 'server: "https://10.0.0.1:6443"\n    insecure-skip-tls-verify: true'],
    ["proxy-url", 'server: "https://10.0.0.1:6443"\n    proxy-url: http://proxy:3128'],
  ] as const) {
    it(`refuses a cluster with ${field}`, () => {
      const parsed = parseRemoteKubeconfig(kubeconfig(`token: ${TOKEN}`, cluster));
      assert.ok(!parsed.ok);
      assert.match(parsed.message, new RegExp(`"${field}"`));
    });
  }

  it("refuses a plain-http server, a missing context and YAML that is not a kubeconfig", () => {
    const http = parseRemoteKubeconfig(kubeconfig(`token: ${TOKEN}`, 'server: "http://10.0.0.1:8080"'));
    assert.ok(!http.ok);
    assert.match(http.message, /https:\/\//);
    const noContext = parseRemoteKubeconfig(kubeconfig(`token: ${TOKEN}`).replace("current-context: b", "current-context: x"));
    assert.ok(!noContext.ok);
    assert.match(noContext.message, /current-context "x"/);
    const junk = parseRemoteKubeconfig(": : :\n\t-");
    assert.ok(!junk.ok);
    assert.ok(!parseRemoteKubeconfig("").ok);
  });

  it("refuses a user without credentials", () => {
    const parsed = parseRemoteKubeconfig(kubeconfig("client-certificate-data: Q0VSVA=="));
    assert.ok(!parsed.ok);
    assert.match(parsed.message, /no credentials/);
  });
});

describe("kubeConfigFor", () => {
  it("builds a connection with exactly the accepted credentials", async () => {
    const parsed = parseRemoteKubeconfig(kubeconfig(`token: ${TOKEN}`));
    assert.ok(parsed.ok);
    const kc = kubeConfigFor(parsed.value);
    assert.equal(kc.getCurrentCluster()?.server, "https://10.0.0.1:6443");
    const options: RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    assert.equal(options.ca, "CA");
    assert.equal(options.rejectUnauthorized, true);
    assert.equal(options.cert, undefined);
    assert.deepEqual(options.headers, { Authorization: `Bearer ${TOKEN}` });
  });
});
