import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exitOnSecondSignal, SAME_INTERRUPT_MS } from "../../../src/commands/signals.ts";

describe("second interrupt", () => {
  it("treats a forwarded copy of the same Ctrl-C (within SAME_INTERRUPT_MS) as one, and a later one as the second", () => {
    let clock = 1_000;
    const exits: number[] = [];
    const said: string[] = [];
    const uninstall = exitOnSecondSignal({ exit: (code) => exits.push(code), now: () => clock, write: (line) => said.push(line) });
    try {
      process.emit("SIGINT");
      clock += 5; // npm's forwarded copy of the same Ctrl-C
      process.emit("SIGINT");
      assert.deepEqual(exits, [], "one Ctrl-C delivered twice is still the first interrupt");
      clock += SAME_INTERRUPT_MS;
      process.emit("SIGTERM");
      assert.deepEqual(exits, [130], "a second interrupt stops at once with 130");
      assert.equal(said.length, 1);
    } finally {
      uninstall();
    }
  });
});
