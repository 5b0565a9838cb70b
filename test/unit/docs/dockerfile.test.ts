// The Dockerfile cannot be built here (no container engine), so its contract is checked
// statically: the entrypoint it names exists in the repository, it runs as a non-root user,
// and the build context it depends on is not excluded by .dockerignore.
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

describe("Dockerfile", () => {
  it("has an exec-form ENTRYPOINT that runs a file that exists in the repository", () => {
    const entrypoints = instruction("ENTRYPOINT");
    assert.equal(entrypoints.length, 1, "exactly one ENTRYPOINT in the final stage");
    const argv = JSON.parse(entrypoints[0]!) as string[];
    assert.equal(argv[0], "node");
    const script = argv[1]!;
    assert.match(script, /^\/app\//, "the entrypoint lives under WORKDIR /app");
    const inRepo = script.slice("/app/".length);
    assert.ok(existsSync(join(ROOT, inRepo)), `${inRepo} (the image's entrypoint) does not exist in the repository`);
    assert.ok(
      instruction("COPY").some((copy) => copy.split(/\s+/)[0] === inRepo.split("/")[0]),
      `${inRepo} is not copied into the image`,
    );
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

  it("builds on Node.js 24 and installs production dependencies only", () => {
    assert.match(dockerfile, /node:24-(bookworm-slim|alpine)/);
    const runs = instructions.filter((line) => /^RUN\s/i.test(line)).join("\n");
    assert.match(runs, /npm ci --omit=dev/);
    assert.ok(instructions.filter((line) => /^FROM\s/i.test(line)).length >= 2, "multi-stage");
  });

  it("keeps what the image copies in the build context (.dockerignore)", () => {
    const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim());
    for (const needed of ["package.json", "package-lock.json", "src/**"]) {
      assert.ok(ignore.includes(`!${needed}`), `.dockerignore does not re-include ${needed}`);
    }
  });

  it("holds everything src/ imports statically: production dependencies and files under src/", () => {
    // The image has src/ and `npm ci --omit=dev` only. (Dynamic imports, like the `dev`
    // command's of test/cluster, are not loaded by the in-cluster commands.)
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
