/**
 * A snapshot of the host state the real node promises not to change (node.ts): the host network
 * namespace's interfaces, addresses, routes, policy rules, firewall rules and `net.*` sysctls,
 * the list of named network namespaces, the host's mount points, the top-level cgroups and the
 * kernel sysctls kubelet would write. Taken before a node starts and after it stops; the two must
 * be equal (test/host/host-state.test.ts).
 *
 * Values that change on their own are left out, each for a stated reason (`VOLATILE_SYSCTLS`);
 * firewall dumps lose their counters and timestamps. Everything else is compared as text.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** `net.*` keys whose values move without anyone writing them. */
const VOLATILE_SYSCTLS: readonly RegExp[] = [
  /^net\.netfilter\.nf_conntrack_count$/, // live connection count
];

export type HostSnapshot = Record<string, string>;

async function command(cmd: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    return `(${cmd} ${args.join(" ")} failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)})`;
  }
}

function readSysctls(dir: string, prefix: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const key = `${prefix}.${entry.name}`;
    if (entry.isDirectory()) {
      readSysctls(path, key, out);
      continue;
    }
    if (VOLATILE_SYSCTLS.some((pattern) => pattern.test(key))) continue;
    try {
      if ((statSync(path).mode & 0o444) === 0) continue;
      out.push(`${key} = ${readFileSync(path, "utf8").trim()}`);
    } catch {
      // write-only or permission-restricted keys (e.g. stable_secret) have no value to compare
    }
  }
}

/** iptables-save output without the lines that change by themselves (comments, counters). */
function stripFirewallNoise(text: string): string {
  return text
    .split("\n")
    .filter((line) => !line.startsWith("#"))
    .map((line) => line.replace(/\[\d+:\d+\]/g, "[-:-]"))
    .join("\n");
}

function mountPoints(): string {
  // mount IDs and peer groups vary; the point, file-system type and source are what matter.
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(" ");
      const separator = fields.indexOf("-");
      return `${fields[4]} ${fields[separator + 1]} ${fields[separator + 2]}`;
    })
    .sort()
    .join("\n");
}

function topLevelCgroups(): string {
  if (!existsSync("/sys/fs/cgroup")) return "";
  const lines: string[] = [];
  for (const hierarchy of readdirSync("/sys/fs/cgroup")) {
    const dir = join("/sys/fs/cgroup", hierarchy);
    try {
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) lines.push(`${hierarchy}/${entry.name}`);
    } catch {
      // not a directory
    }
  }
  return lines.sort().join("\n");
}

export async function snapshotHost(): Promise<HostSnapshot> {
  const sysctls: string[] = [];
  readSysctls("/proc/sys/net", "net", sysctls);
  const kernel = [
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
  ]
    .map((key) => `${key} = ${readFileSync(join("/proc/sys", key), "utf8").trim()}`)
    .join("\n");
  return {
    links: await command("ip", ["-o", "link", "show"]),
    addresses: await command("ip", ["-o", "addr", "show"]),
    "routes (all tables, IPv4)": await command("ip", ["-4", "route", "show", "table", "all"]),
    "routes (all tables, IPv6)": await command("ip", ["-6", "route", "show", "table", "all"]),
    "policy rules (IPv4)": await command("ip", ["-4", "rule", "show"]),
    "policy rules (IPv6)": await command("ip", ["-6", "rule", "show"]),
    "network namespaces": await command("ip", ["netns", "list"]),
    "nftables ruleset": await command("nft", ["list", "ruleset"]),
    "iptables (IPv4)": stripFirewallNoise(await command("iptables-save", [])),
    "iptables (IPv6)": stripFirewallNoise(await command("ip6tables-save", [])),
    "net.* sysctls": sysctls.sort().join("\n"),
    "kernel sysctls kubelet writes": kernel,
    "mount points": mountPoints(),
    "top-level cgroups": topLevelCgroups(),
  };
}

/** The entries that differ, each with the lines only in `before` (-) and only in `after` (+). */
export function diffSnapshots(before: HostSnapshot, after: HostSnapshot): string[] {
  const differences: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[key] ?? "";
    const b = after[key] ?? "";
    if (a === b) continue;
    const linesA = new Set(a.split("\n"));
    const linesB = new Set(b.split("\n"));
    const removed = [...linesA].filter((line) => !linesB.has(line)).map((line) => `  - ${line}`);
    const added = [...linesB].filter((line) => !linesA.has(line)).map((line) => `  + ${line}`);
    differences.push(`${key}:\n${[...removed, ...added].join("\n") || "  (same lines, other order)"}`);
  }
  return differences;
}
