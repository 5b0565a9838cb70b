/**
 * node:http, read without an ES module import.
 *
 * Why (issue #15, lean processes): for `import … from "node:http"` Node builds an ES module
 * facade of the built-in, and building it reads every export. node:http's exports include lazy
 * getters (`WebSocket`, `CloseEvent`, `MessageEvent`) that load Node's own bundled undici, which
 * none of our processes uses: a script that imports `request` from node:http idles at 58.2 MiB
 * RSS, one that takes it from `process.getBuiltinModule` at 45.0 MiB. node:http is the only
 * built-in of ours with such getters (each was imported alone and `process.moduleLoadList`
 * checked for undici).
 *
 * Contract: every value of node:http that src/ uses comes from `nodeHttp`; type imports from
 * "node:http" are erased and cost nothing (test/unit/architecture/node-http.test.ts holds both).
 */
import type * as NodeHttp from "node:http";

export const nodeHttp: typeof NodeHttp = process.getBuiltinModule("node:http");
