// `bun bench/profile.ts <file.cpuprofile> [filter]`: where a CPU profile written by
// `bun run bench --profile DIR` spends its time, as inclusive shares counted once per sample (a
// recursive function is not counted twice), grouped by package and by function. Bun's own
// --cpu-prof-md lists self time; what costs in a request path is usually a caller's inclusive time.
// With a filter, only samples whose stack contains a frame matching it are counted.
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [path, filter] = process.argv.slice(2);
if (!path) {
  console.error("usage: bun bench/profile.ts <file.cpuprofile> [filter]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const where = ({ url, lineNumber }: CallFrame) => {
  const local = url.replace(/^file:\/\//, "").replace(`${process.cwd()}/`, "");
  return local ? `${local}:${lineNumber + 1}` : "[native]";
};
const packageOf = ({ url }: CallFrame) => {
  if (!url) return "[native]";
  const match = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (match) return match[1]!;
  if (url.includes("/src/")) return `src/${url.split("/src/")[1]!.split("/")[0]}`;
  return url.startsWith("internal:") || url.startsWith("bun:") || url.startsWith("node:") ? "bun internals" : url;
};

const stackOf = (id: number) => {
  const frames: CallFrame[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at)!.callFrame);
  return frames;
};

let total = 0;
let idle = 0;
const functions = new Map<string, number>();
const selfPackages = new Map<string, number>();
for (const [i, id] of profile.samples.entries()) {
  const micros = profile.timeDeltas[i] ?? 0;
  const stack = stackOf(id);
  const leaf = stack[0]!;
  if (leaf.functionName === "(idle)" || leaf.functionName === "(program)") {
    idle += micros;
    continue;
  }
  if (filter && !stack.some((f) => `${f.functionName} ${where(f)}`.includes(filter))) continue;
  total += micros;
  selfPackages.set(packageOf(leaf), (selfPackages.get(packageOf(leaf)) ?? 0) + micros);
  for (const key of new Set(stack.map((f) => `${f.functionName || "(anonymous)"}  ${where(f)}`))) {
    functions.set(key, (functions.get(key) ?? 0) + micros);
  }
}

const share = (micros: number) => `${((100 * micros) / total).toFixed(1).padStart(5)}%`;
const top = (map: Map<string, number>, n: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
console.log(
  `${(total / 1e6).toFixed(2)} s on CPU${filter ? ` under "${filter}"` : ""}, ${(idle / 1e6).toFixed(2)} s idle\n`,
);
console.log("self time by package");
for (const [name, micros] of top(selfPackages, 15)) console.log(`  ${share(micros)}  ${name}`);
console.log("\ninclusive time by function (once per sample)");
for (const [name, micros] of top(functions, 60)) console.log(`  ${share(micros)}  ${name}`);
