import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { asciiOnly } from "../../../scripts/bundle.ts";

describe("asciiOnly (the bundle V8 keeps as a one-byte string)", () => {
  it("writes every character outside ASCII as a \\u escape and leaves ASCII alone", () => {
    const source = "// key → ports — caf\u00e9\nconst x = 'plain';\n";
    const ascii = asciiOnly(source);
    assert.equal(ascii, "// key \\u2192 ports \\u2014 caf\\u00e9\nconst x = 'plain';\n");
    assert.doesNotMatch(ascii, /[\u0080-\uffff]/);
  });

  it("escapes a character outside the BMP as its two UTF-16 code units", () => {
    assert.equal(asciiOnly("/* \u{1F600} */"), "/* \\ud83d\\ude00 */");
  });

  it("does not change what escaped code evaluates to", () => {
    // esbuild leaves non-ASCII in comments only; should one reach a string literal, the escape keeps its value.
    const code = "return '\u00e9\u2192' /* \u2014 */;";
    assert.equal(new Function(asciiOnly(code))(), new Function(code)());
  });
});
