import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Peer } from "../../../src/api/access.ts";
import { cidrContains, parseCidr, parseIp } from "../../../src/api/access.ts";
import { type AccessRequest, decideAccess, normalizeAddress, type PeerPod } from "../../../src/gateway/access-decision.ts";

const NAMESPACE_LABELS: Record<string, Record<string, string>> = {
  shop: { "kubernetes.io/metadata.name": "shop", team: "orders" },
  payments: { "kubernetes.io/metadata.name": "payments", team: "money" },
  other: { "kubernetes.io/metadata.name": "other" },
};

const pod = (namespace: string, name: string, labels: Record<string, string> = {}): PeerPod => ({ namespace, name, labels });

function request(overrides: Partial<AccessRequest>): AccessRequest {
  return {
    source: "10.244.0.9",
    pod: undefined,
    namespaceLabels: (ns) => NAMESPACE_LABELS[ns],
    namespace: "shop",
    peers: undefined,
    ...overrides,
  };
}

describe("decideAccess", () => {
  const cases: { name: string; pod?: PeerPod; source?: string; peers?: Peer[]; allowed: boolean; peer?: number; reason?: string }[] = [
    { name: "default: a pod of the PortForward's namespace is allowed", pod: pod("shop", "client"), allowed: true, peer: -1 },
    { name: "default: a pod of another namespace is refused", pod: pod("other", "client"), allowed: false, reason: "peer_not_allowed" },
    { name: "default: an unknown address is refused", allowed: false, reason: "source_unknown" },
    { name: "loopback (the gateway's own network namespace) is always allowed", source: "127.0.0.1", allowed: true, peer: -2 },
    { name: "IPv6 loopback too", source: "::1", peers: [{ podSelector: {} }], allowed: true, peer: -2 },
    { name: "IPv4-mapped loopback too", source: "::ffff:127.0.0.5", allowed: true, peer: -2 },
    {
      name: "lone podSelector means pods of the PortForward's namespace",
      pod: pod("other", "api", { app: "api" }),
      peers: [{ podSelector: { matchLabels: { app: "api" } } }],
      allowed: false,
      reason: "peer_not_allowed",
    },
    {
      name: "lone podSelector admits matching pods of the PortForward's namespace",
      pod: pod("shop", "api", { app: "api" }),
      peers: [{ podSelector: { matchLabels: { app: "api" } } }],
      allowed: true,
      peer: 0,
    },
    {
      name: "lone podSelector refuses non-matching pods of the PortForward's namespace",
      pod: pod("shop", "batch", { app: "batch" }),
      peers: [{ podSelector: { matchLabels: { app: "api" } } }],
      allowed: false,
      reason: "peer_not_allowed",
    },
    {
      name: "namespaceSelector admits every pod of a matching namespace",
      pod: pod("payments", "x"),
      peers: [{ namespaceSelector: { matchLabels: { team: "money" } } }],
      allowed: true,
      peer: 0,
    },
    {
      name: "namespaceSelector: {} admits every attributable pod",
      pod: pod("other", "x"),
      peers: [{ namespaceSelector: {} }],
      allowed: true,
      peer: 0,
    },
    {
      name: "namespaceSelector: {} still refuses unattributable sources",
      peers: [{ namespaceSelector: {} }],
      allowed: false,
      reason: "source_unknown",
    },
    {
      name: "namespaceSelector and podSelector are ANDed",
      pod: pod("payments", "x", { role: "batch" }),
      peers: [{ namespaceSelector: { matchLabels: { team: "money" } }, podSelector: { matchLabels: { role: "api" } } }],
      allowed: false,
      reason: "peer_not_allowed",
    },
    {
      name: "matchExpressions on namespaces",
      pod: pod("payments", "x"),
      peers: [{ namespaceSelector: { matchExpressions: [{ key: "team", operator: "In", values: ["money", "orders"] }] } }],
      allowed: true,
      peer: 0,
    },
    {
      name: "a namespace with unknown labels matches no namespaceSelector (fail closed)",
      pod: pod("unlisted", "x"),
      peers: [{ namespaceSelector: {} }],
      allowed: false,
      reason: "peer_not_allowed",
    },
    {
      name: "ipBlock admits an unattributable address in range",
      source: "203.0.113.7",
      peers: [{ ipBlock: { cidr: "203.0.113.0/24" } }],
      allowed: true,
      peer: 0,
    },
    {
      name: "ipBlock except carves a hole",
      source: "203.0.113.7",
      peers: [{ ipBlock: { cidr: "203.0.113.0/24", except: ["203.0.113.0/29"] } }],
      allowed: false,
      reason: "source_unknown",
    },
    {
      name: "ipBlock matches an IPv4-mapped IPv6 source",
      source: "::ffff:203.0.113.7",
      peers: [{ ipBlock: { cidr: "203.0.113.0/24" } }],
      allowed: true,
      peer: 0,
    },
    {
      name: "ipBlock admits attributed pods too, by address",
      source: "10.244.0.9",
      pod: pod("other", "x"),
      peers: [{ ipBlock: { cidr: "10.244.0.0/16" } }],
      allowed: true,
      peer: 0,
    },
    {
      name: "IPv6 ipBlock",
      source: "2001:db8::42",
      peers: [{ ipBlock: { cidr: "2001:db8::/32", except: ["2001:db8:1::/48"] } }],
      allowed: true,
      peer: 0,
    },
    {
      name: "IPv4 ipBlock never matches an IPv6 source",
      source: "2001:db8::42",
      peers: [{ ipBlock: { cidr: "0.0.0.0/0" } }],
      allowed: false,
      reason: "source_unknown",
    },
    {
      name: "first matching peer wins, any peer suffices",
      pod: pod("payments", "x"),
      peers: [{ podSelector: { matchLabels: { app: "api" } } }, { namespaceSelector: { matchLabels: { team: "money" } } }],
      allowed: true,
      peer: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = decideAccess(request({ pod: c.pod, source: c.source ?? "10.244.0.9", peers: c.peers }));
      if (c.allowed) assert.deepEqual(decision, { allowed: true, peer: c.peer });
      else assert.deepEqual(decision, { allowed: false, reason: c.reason });
    });
  }
});

describe("addresses and CIDRs", () => {
  it("parses IPv4, IPv6, compressed and IPv4-mapped forms", () => {
    assert.deepEqual(parseIp("10.0.0.1"), { family: 4, bits: 0x0a000001n });
    assert.deepEqual(parseIp("::ffff:10.0.0.1"), { family: 4, bits: 0x0a000001n });
    assert.deepEqual(parseIp("::1"), { family: 6, bits: 1n });
    assert.deepEqual(parseIp("2001:db8::"), { family: 6, bits: 0x20010db8n << 96n });
    assert.deepEqual(parseIp("fe80::1%eth0"), { family: 6, bits: (0xfe80n << 112n) | 1n });
    for (const bad of ["10.0.0.256", "10.0.0", "1:2:3:4:5:6:7:8:9", "1::2::3", "hello", ""]) assert.equal(parseIp(bad), undefined, bad);
  });

  it("parses CIDRs and masks host bits", () => {
    assert.deepEqual(parseCidr("10.1.2.3/8"), { family: 4, bits: 0x0a000000n, prefix: 8 });
    assert.deepEqual(parseCidr("0.0.0.0/0"), { family: 4, bits: 0n, prefix: 0 });
    for (const bad of ["10.0.0.0", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "x/8"]) assert.equal(parseCidr(bad), undefined, bad);
  });

  it("cidrContains needs the same family and a longer prefix inside", () => {
    assert.equal(cidrContains("10.0.0.0/8", "10.1.0.0/16"), true);
    assert.equal(cidrContains("10.0.0.0/8", "10.0.0.0/8"), true);
    assert.equal(cidrContains("10.0.0.0/16", "10.1.0.0/24"), false);
    assert.equal(cidrContains("10.0.0.0/16", "10.0.0.0/8"), false);
    assert.equal(cidrContains("0.0.0.0/0", "::/0"), false);
  });

  it("normalizeAddress shows IPv4-mapped IPv6 as IPv4", () => {
    assert.equal(normalizeAddress("::ffff:10.0.0.1"), "10.0.0.1");
    assert.equal(normalizeAddress("2001:db8::1"), "2001:db8::1");
    assert.equal(normalizeAddress(undefined), "");
  });
});
