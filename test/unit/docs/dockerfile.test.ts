// The Dockerfile's contract, checked statically (test/in-cluster/ builds it with podman and runs
// it): the entrypoint is the bundle its build stage makes, it runs as a non-root user, and the
// build context it depends on is not excluded by .dockerignore.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));

/** Instructions of the last stage, i.e. of the image that runs. */
function finalStage(): string[] {
  const lastFrom = instructions.findLastIndex((line) => /^FROM\s/i.test(line));
  return instructions.slice(lastFrom);
}

function instruction(name: string, stage: readonly string[] = finalStage()): string[] {
  return stage.filter((line) => line.toUpperCase().startsWith(`${name} `)).map((line) => line.slice(name.length + 1).trim());
}

/** Instructions from the stage named `name` (`FROM ... AS name`) up to the next FROM. */
function stage(name: string): string[] {
  const start = instructions.findIndex((line) => new RegExp(`^FROM\\s.*\\sAS\\s+${name}$`, "i").test(line));
  assert.ok(start >= 0, `no stage named ${name}`);
  const next = instructions.findIndex((line, i) => i > start && /^FROM\s/i.test(line));
  return instructions.slice(start, next < 0 ? undefined : next);
}

describe("Dockerfile", () => {
  it("has an exec-form ENTRYPOINT that runs the bundle the build stage makes with scripts/bundle.ts", () => {
    const entrypoints = instruction("ENTRYPOINT");
    assert.equal(entrypoints.length, 1, "exactly one ENTRYPOINT in the final stage");
    const argv = JSON.parse(entrypoints[0]!) as string[];
    assert.equal(argv[0], "node");
    const script = argv[1]!;
    assert.match(script, /^\/app\/[^/]+\.mjs$/, "the entrypoint is one ES module under WORKDIR /app");
    const copies = instruction("COPY");
    const built = copies
      .map((copy) => /^--from=build\s+(\S+)\s+(\S+)$/.exec(copy))
      .find((m) => m !== null && (m[2] === "./" ? `/app/${m[1]!.split("/").at(-1)}` : m[2]) === script);
    assert.ok(built, `${script} is not copied from the build stage`);
    const bundled = instruction("RUN", stage("build")).some((run) => run === `node scripts/bundle.ts --out ${built[1]}`);
    assert.ok(bundled, `the build stage does not make ${built[1]} with scripts/bundle.ts`);
    assert.ok(existsSync(join(ROOT, "scripts", "bundle.ts")));
  });

  it("runs as a numeric non-root user in the final stage", () => {
    const users = instruction("USER");
    assert.ok(users.length > 0, "the final stage sets no USER, so it runs as root");
    const user = users.at(-1)!;
    assert.match(user, /^\d+(:\d+)?$/, "a numeric uid lets runAsNonRoot verify it without /etc/passwd");
    const [uid, gid] = user.split(":").map(Number);
    assert.notEqual(uid, 0);
    if (gid !== undefined) assert.notEqual(gid, 0);
    assert.equal(uid, 65532, "the Helm chart runs as uid 65532");
  });

  it("builds on Node.js 24 in two stages, and the image holds the bundle only: no node_modules, no sources", () => {
    assert.match(dockerfile, /node:24-(bookworm-slim|alpine)/);
    assert.ok(instructions.filter((line) => /^FROM\s/i.test(line)).length >= 2, "multi-stage");
    assert.match(instruction("RUN", stage("build")).join("\n"), /npm ci --ignore-scripts/);
    const copies = instruction("COPY");
    assert.equal(copies.length, 1, `the final stage copies one thing, the bundle: ${copies.join(" | ")}`);
    assert.doesNotMatch(copies[0]!, /node_modules|src/);
  });

  it("sizes V8's heap from the container's memory limit, overridable through NODE_OPTIONS", () => {
    const env = instruction("ENV").find((line) => line.startsWith("NODE_OPTIONS="));
    assert.ok(env, "the final stage sets no NODE_OPTIONS");
    assert.match(env, /--max-old-space-size-percentage=\d+/, "the old space follows the memory limit");
    assert.match(env, /--max-semi-space-size=\d+/);
    const argv = JSON.parse(instruction("ENTRYPOINT")[0]!) as string[];
    assert.ok(!argv.some((arg) => arg.startsWith("--max-")), "heap flags on the command line would override a user's NODE_OPTIONS");
  });

  it("keeps what the build copies in the build context (.dockerignore)", () => {
    const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim());
    for (const needed of ["package.json", "package-lock.json", "scripts/bundle.ts", "src/**"]) {
      assert.ok(ignore.includes(`!${needed}`), `.dockerignore does not re-include ${needed}`);
    }
  });

  it("bundles only what src/ imports statically: production dependencies and files under src/", () => {
    // The bundle is made from src/main.ts: an import of a devDependency or of a file outside
    // src/ would put test or tooling code into the image and the npm package.
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    const production = new Set(Object.keys(pkg.dependencies ?? {}));
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    let checked = 0;
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
      );
    for (const file of walk(join(ROOT, "src"))) {
      const source = readFileSync(file, "utf8");
      for (const match of source.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+['"]([^'"]+)['"]/gm)) {
        const specifier = match[1]!;
        checked++;
        const where = relative(ROOT, file);
        if (specifier.startsWith(".")) {
          const target = relative(join(ROOT, "src"), resolve(dirname(file), specifier));
          if (target.startsWith("..")) problems.push(`${where} imports ${specifier}, outside src/`);
        } else if (!specifier.startsWith("node:") && !builtins.has(specifier)) {
          const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!;
          if (!production.has(name)) problems.push(`${where} imports ${name}, which is not a production dependency`);
        }
      }
    }
    assert.ok(checked > 50, `only ${checked} imports found: the import pattern is broken`);
    assert.deepEqual(problems, []);
  });
});
