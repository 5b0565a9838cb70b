import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatSelector, matchesSelector, type Selector } from "../../../src/targets/label-selector.ts";

describe("matchesSelector", () => {
  const labels = { app: "web", tier: "front" };
  const cases: [string, Selector, boolean][] = [
    ["matchLabels all equal", { matchLabels: { app: "web" } }, true],
    ["matchLabels one differs", { matchLabels: { app: "web", tier: "back" } }, false],
    ["In with the value", { matchExpressions: [{ key: "tier", operator: "In", values: ["front", "x"] }] }, true],
    ["In without the key", { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }, false],
    ["NotIn without the key", { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, true],
    ["NotIn with the value", { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["front"] }] }, false],
    ["Exists", { matchExpressions: [{ key: "app", operator: "Exists" }] }, true],
    ["DoesNotExist", { matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, false],
    ["unknown operator matches nothing", { matchExpressions: [{ key: "app", operator: "Gt", values: ["1"] }] }, false],
    [
      "labels and expressions are ANDed",
      { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] },
      false,
    ],
  ];
  for (const [name, selector, expected] of cases) {
    it(name, () => assert.equal(matchesSelector(selector, labels), expected));
  }
});

describe("formatSelector", () => {
  it("writes selectors like kubectl", () => {
    assert.equal(
      formatSelector({
        matchLabels: { app: "web" },
        matchExpressions: [
          { key: "tier", operator: "In", values: ["a", "b"] },
          { key: "legacy", operator: "DoesNotExist" },
          { key: "canary", operator: "Exists" },
          { key: "zone", operator: "NotIn", values: ["z"] },
        ],
      }),
      "app=web,tier in (a,b),!legacy,canary,zone notin (z)",
    );
  });
});
