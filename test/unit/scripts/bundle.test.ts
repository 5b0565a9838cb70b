import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { asciiOnly, withoutHttpFacade } from "../../../scripts/bundle.ts";

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

describe("withoutHttpFacade (no ES import of node:http in the bundle)", () => {
  it("turns each form of import into a read of process.getBuiltinModule, declared at the top", () => {
    const bundle = [
      "#!/usr/bin/env node",
      "var early = 1;",
      'import * as http from "http";',
      "var middle = http.Agent;",
      'import http2 from "node:http";',
      'import { STATUS_CODES, request as request2 } from "node:http";',
      'import { Agent } from "node:https";',
      "",
    ].join("\n");
    assert.equal(
      withoutHttpFacade(bundle),
      [
        "#!/usr/bin/env node",
        'const http = process.getBuiltinModule("node:http");',
        'const http2 = process.getBuiltinModule("node:http");',
        'const { STATUS_CODES, request: request2 } = process.getBuiltinModule("node:http");',
        "var early = 1;",
        "var middle = http.Agent;",
        'import { Agent } from "node:https";',
        "",
      ].join("\n"),
    );
  });

  it("gives the bindings what the imports gave", () => {
    const http = process.getBuiltinModule("node:http");
    const code = withoutHttpFacade('import { STATUS_CODES as codes } from "node:http";\nreturn codes[404];\n');
    assert.equal(new Function(code)(), http.STATUS_CODES[404]);
  });

  it("leaves a bundle without node:http imports as it is", () => {
    assert.equal(withoutHttpFacade('import { join } from "node:path";\n'), 'import { join } from "node:path";\n');
  });
});
