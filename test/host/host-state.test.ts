// The real node's isolation contract (test/cluster/node.ts): after the in-cluster phase's node
// has stopped, the host's network namespace (links, addresses, routes, rules, firewall, net.*
// sysctls), its named network namespaces, mounts, top-level cgroups and the kernel sysctls kubelet
// writes are exactly as they were before the node started. The suite runner takes both snapshots
// (test/run-suite.ts) and hands them over in TUNNELKEEPER_HOST_SNAPSHOTS. The snapshots are of
// the whole host, so another harness run that starts or stops its own node in between shows up
// here too: run one suite at a time on a machine (CI does).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { diffSnapshots, type HostSnapshot } from "../cluster/host-state.ts";

function snapshots(): { before: HostSnapshot; after: HostSnapshot } {
  const file = process.env.TUNNELKEEPER_HOST_SNAPSHOTS;
  if (!file) throw new Error("no host snapshots: this test runs after the in-cluster phase of `npm test` (test/run-suite.ts)");
  return JSON.parse(readFileSync(file, "utf8")) as { before: HostSnapshot; after: HostSnapshot };
}

describe("the host after the real node stopped", () => {
  it("took a snapshot of every part it promises to leave alone", () => {
    const { before } = snapshots();
    for (const key of ["routes (all tables, IPv4)", "nftables ruleset", "net.* sysctls", "mount points", "network namespaces"]) {
      assert.ok(key in before, `the snapshot has no "${key}"`);
    }
    assert.ok(before["net.* sysctls"]!.split("\n").length > 100, "net.* sysctls were read");
  });

  it("is exactly as it was before the node started", () => {
    const { before, after } = snapshots();
    const differences = diffSnapshots(before, after);
    assert.deepEqual(differences, [], `the host changed:\n${differences.join("\n")}`);
  });
});
