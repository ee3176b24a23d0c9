// `bun run check:cycles`: fails when the project's own modules import each other in a circle, and
// names the cycles it met (at least one through every knot of modules that reach each other).
// Imports run one way (entry → app → modules → auth/http → db/config, and tests likewise), so any
// cycle is a layering mistake. `import type` counts too: a type-only cycle is still two modules
// that cannot be understood one without the other. The same holds one level up, for folders: two
// features whose files import each other's (tasks/ mounting events/, events/ reading the feed in tasks/)
// pass the file check and still cannot be understood apart. A file directly under a top folder
// (src/config.ts, src/app.ts) is a node of its own there, since those are layers, not features.
// The files are those tsconfig.json includes; TypeScript's own scanner lists each file's imports.
import { dirname, relative, resolve } from "node:path";
import ts from "typescript";

const root = resolve(import.meta.dir, "..");
const config = ts.readConfigFile(resolve(root, "tsconfig.json"), ts.sys.readFile);
const files = new Set(ts.parseJsonConfigFileContent(config.config, ts.sys, root).fileNames.map((f) => resolve(f)));

const imports = new Map<string, string[]>();
for (const file of files) {
  const { importedFiles } = ts.preProcessFile(await Bun.file(file).text(), true, true);
  imports.set(
    file,
    importedFiles
      .filter(({ fileName }) => fileName.startsWith("."))
      .map(({ fileName }) => resolve(dirname(file), fileName))
      .filter((target) => files.has(target)),
  );
}

/** The cycles of a directed graph, one per cycle whichever node the search entered it by. */
function cyclesOf(graph: Map<string, string[]>): string[][] {
  const cycles = new Map<string, string[]>();
  const done = new Set<string>();
  const path: string[] = [];
  // Depth-first search; a node met again while still on the path closes a cycle.
  const visit = (node: string) => {
    const at = path.indexOf(node);
    if (at !== -1) {
      const cycle = path.slice(at);
      const first = cycle.indexOf(cycle.toSorted()[0]!);
      const key = [...cycle.slice(first), ...cycle.slice(0, first)];
      cycles.set(key.join("\0"), key);
      return;
    }
    if (done.has(node)) return;
    path.push(node);
    for (const target of graph.get(node) ?? []) visit(target);
    path.pop();
    done.add(node);
  };
  for (const node of [...graph.keys()].sort()) visit(node);
  return [...cycles.values()];
}

const name = (file: string) => relative(root, file);
/** A file's folder below its top folder (src/modules/tasks), or the file itself when it sits in a top folder. */
const folderOf = (file: string) => {
  const parts = name(file).split("/");
  return parts.length <= 2 ? parts.join("/") : parts.slice(0, -1).join("/");
};
const folders = new Map<string, string[]>();
for (const [file, targets] of imports) {
  const from = folderOf(file);
  const reached = new Set([...(folders.get(from) ?? []), ...targets.map(folderOf).filter((to) => to !== from)]);
  folders.set(from, [...reached]);
}

const fileCycles = cyclesOf(imports);
const folderCycles = cyclesOf(folders);
for (const cycle of fileCycles) console.log(`import cycle: ${[...cycle, cycle[0]!].map(name).join(" → ")}`);
for (const cycle of folderCycles) console.log(`folder cycle: ${[...cycle, cycle[0]!].join(" → ")}`);
const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
console.log(
  `${files.size} modules in ${folders.size} folders, ${count(fileCycles.length, "import cycle")}, ${count(folderCycles.length, "folder cycle")}`,
);
process.exit(fileCycles.length + folderCycles.length === 0 ? 0 : 1);
