/** Reading a V8 .cpuprofile (`node --cpu-prof`) for benchmark reports. */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time per function (name, file:line) as a share of all samples, largest first. */
export function topSelfTime(file: string, limit: number): string[] {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[] };
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === "" ? "" : ` ${url.replace(/^.*\/(node_modules|src)\//, "$1/")}:${lineNumber + 1}`;
    const key = `${functionName || "(anonymous)"}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits);
  }
  return [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([key, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)}%  ${key}`);
}

/** Where a call frame's code lives: a file under src/, an npm package, Node's internals, or a V8 pseudo-frame. */
function moduleOf(functionName: string, url: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:")) return "(node internals)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return pkg[1] as string;
  const src = /\/(src|bench|test)\/(.*)$/.exec(url);
  return src === null ? url : `${src[1]}/${src[2]}`;
}

/** Self time per module (see moduleOf) as a share of the busy samples (idle excluded), largest first. */
export function busySelfTimeByModule(file: string, limit: number): string[] {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; startTime: number; endTime: number };
  const byModule = new Map<string, number>();
  let busy = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (node.callFrame.functionName === "(idle)" || hits === 0) continue;
    busy += hits;
    const key = moduleOf(node.callFrame.functionName, node.callFrame.url);
    byModule.set(key, (byModule.get(key) ?? 0) + hits);
  }
  return [...byModule.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([key, hits]) => `${((100 * hits) / busy).toFixed(1).padStart(5)}%  ${key}`);
}
