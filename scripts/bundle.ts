/**
 * Bundles the `tunnelkeeper` CLI (src/main.ts and its three dependencies) into one JavaScript
 * file with esbuild. This file is what users run: the image's entrypoint, the npm package's
 * `dist/main.js`, and (as CommonJS) the inside of the single executable.
 *
 *   npm run build [-- --out FILE]      (default dist/main.js, ES module)
 *
 * Why a bundle and not the TypeScript sources or tsc's output: Node.js loading hundreds of
 * module files costs memory that one file does not. An idle gateway run from src/main.ts holds
 * about 185 MiB RSS, of which type stripping is ~17 MiB and @kubernetes/client-node's ~1,000
 * module files most of the rest; the same gateway from this bundle holds about 98 MiB
 * (docs/benchmarks.md, "Lean processes").
 *
 * The bundle carries the version (no package.json travels next to it), is not minified (stack
 * traces of bugs stay readable), and the `dev` command is not in it: it needs the repository's
 * test harness.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";

const ROOT = join(import.meta.dirname, "..");

export interface BundleOptions {
  /** Where the bundle is written. */
  readonly out: string;
  /** `esm` for node to run as a file; `cjs` for a single executable, which runs CommonJS only. */
  readonly format: "esm" | "cjs";
}

/** esbuild's entry point in node_modules: the package's own launcher, which finds its platform binary. */
export const ESBUILD = join(ROOT, "node_modules", ".bin", "esbuild");

export function bundleCli(options: BundleOptions): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  mkdirSync(dirname(options.out), { recursive: true });
  const formatFlags =
    options.format === "esm"
      ? // Dependencies written as CommonJS call require() for Node's built-ins; an ES module has none.
        [
          "--format=esm",
          "--banner:js=import { createRequire as __tunnelkeeperCreateRequire } from 'node:module'; const require = __tunnelkeeperCreateRequire(import.meta.url);",
        ]
      : // version.ts reads import.meta only when no version was built in
        ["--format=cjs", "--log-override:empty-import-meta=silent"];
  execFileSync(
    ESBUILD,
    [
      join(ROOT, "src", "main.ts"),
      "--bundle",
      "--platform=node",
      "--target=node24",
      ...formatFlags,
      `--define:TUNNELKEEPER_BUNDLED_VERSION=${JSON.stringify(version)}`,
      "--log-level=warning",
      `--outfile=${options.out}`,
    ],
    { stdio: "inherit" },
  );
  const ascii = asciiOnly(readFileSync(options.out, "utf8"));
  writeFileSync(options.out, options.format === "esm" ? withoutHttpFacade(ascii) : ascii);
  return options.out;
}

/**
 * `source` with every non-ASCII character written as a `\u` escape. esbuild already escapes them
 * in code (its default `--charset=ascii`), so what remains is in comments (ours and the
 * dependencies': "—", "→", "’"), where an escape means the same to a reader and nothing to the
 * parser. Why it matters: V8 keeps a module's source for as long as the process runs (functions
 * compile lazily from it), and a single character outside Latin-1 makes it a two-byte string:
 * the 4.5 MB bundle then held 9 MiB of the gateway's RSS instead of 4.5 (docs/benchmarks.md,
 * "Lean processes").
 */
export function asciiOnly(source: string): string {
  // Without the `u` flag each UTF-16 code unit matches alone: a surrogate pair becomes two escapes.
  return source.replace(/[\u0080-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const HTTP_IMPORT = /^import (?:\* as (\w+)|(\w+)|\{([^}]*)\}) from "(?:node:)?http";\n/gm;

/**
 * `source` (an ES module bundle) with its ES imports of node:http turned into reads of
 * `process.getBuiltinModule("node:http")`, declared at the top. Why: an ES import of node:http
 * makes Node build the built-in's module facade, which reads the lazy getters (`WebSocket`, …)
 * that load Node's bundled undici, 13 MiB of RSS (src/runtime/node-http.ts). Our sources read
 * node:http that way already; the dependencies esbuild bundles (@kubernetes/client-node and
 * the proxy agents under it) import it, and esbuild keeps a built-in's import as an import. The
 * declarations go to the top, before any code that might run a module using them: a built-in
 * depends on nothing in the bundle, and esbuild gives every binding a name of its own.
 */
export function withoutHttpFacade(source: string): string {
  const declarations: string[] = [];
  const body = source.replace(HTTP_IMPORT, (_line, namespace?: string, name?: string, named?: string) => {
    const module = 'process.getBuiltinModule("node:http")';
    if (named === undefined) declarations.push(`const ${namespace ?? name} = ${module};`);
    else {
      const bindings = named
        .split(",")
        .map((binding) => binding.trim())
        .filter((binding) => binding !== "")
        .map((binding) => binding.replace(/\s+as\s+/, ": "));
      declarations.push(`const { ${bindings.join(", ")} } = ${module};`);
    }
    return "";
  });
  if (declarations.length === 0) return source;
  const shebang = body.startsWith("#!") ? body.slice(0, body.indexOf("\n") + 1) : "";
  return `${shebang}${declarations.join("\n")}\n${body.slice(shebang.length)}`;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string", default: join(ROOT, "dist", "main.js") } } });
  process.stdout.write(`${bundleCli({ out: resolve(values.out), format: "esm" })}\n`);
}
