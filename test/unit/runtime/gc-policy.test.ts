import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { applyGcPolicy, GC_POLICY_FLAGS } from "../../../src/runtime/gc-policy.ts";

const run = promisify(execFile);
const policyModule = fileURLToPath(new URL("../../../src/runtime/gc-policy.ts", import.meta.url));

/**
 * A child process that streams `mebibytes` through a loopback socket (the reader keeps nothing)
 * and prints how many full (major) collections ran meanwhile.
 */
const STREAM_AND_COUNT = `
import net from "node:net";
import { constants, PerformanceObserver } from "node:perf_hooks";
const [policy, mebibytes] = process.argv.slice(1);
if (policy === "on") (await import(${JSON.stringify(policyModule)})).applyGcPolicy();
let major = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
}).observe({ entryTypes: ["gc"] });
const server = net.createServer((socket) => {
  socket.on("data", () => {});
  socket.on("end", () => server.close(() => setTimeout(() => console.log(major), 50)));
});
server.listen(0, "127.0.0.1", () => {
  const client = net.connect(server.address().port, "127.0.0.1");
  const block = Buffer.alloc(1 << 20);
  let sent = 0;
  const pump = () => {
    while (sent < Number(mebibytes)) {
      sent++;
      if (!client.write(block)) return void client.once("drain", pump);
    }
    client.end();
  };
  pump();
});
`;

async function majorCollections(policy: "on" | "off", mebibytes: number): Promise<number> {
  const { stdout } = await run(process.execPath, ["--input-type=module", "--eval", STREAM_AND_COUNT, policy, String(mebibytes)]);
  return Number(stdout.trim());
}

describe("gc-policy", () => {
  it("sets each flag of the policy", () => {
    const set: string[] = [];
    applyGcPolicy((flag) => set.push(flag));
    assert.deepEqual(set, [...GC_POLICY_FLAGS]);
  });

  it("this Node honours it: socket reads start less than half as many full collections", async () => {
    const [off, on] = await Promise.all([majorCollections("off", 1024), majorCollections("on", 1024)]);
    // Node 24.21 on the development machine: 15 without, 6 with (five runs each, every one alike).
    assert.ok(off >= 10, `without the policy 1 GiB of reads ran ${off} full collections (expected about one per 64 MiB)`);
    assert.ok(on * 2 <= off, `with the policy 1 GiB of reads ran ${on} full collections against ${off} without`);
  });
});
