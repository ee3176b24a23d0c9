// `bun run check:cycles`: fails when the project's own modules import each other in a circle, and
// names the cycles it met (at least one through every knot of modules that reach each other). Imports run one way (entry → app → modules → auth/http → db/config, and tests
// likewise), so any cycle is a layering mistake. `import type` counts too: a type-only cycle is
// still two modules that cannot be understood one without the other.
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

// Depth-first search; a module met again while still on the path closes a cycle.
const cycles = new Map<string, string[]>();
const done = new Set<string>();
const path: string[] = [];
function visit(file: string) {
  const at = path.indexOf(file);
  if (at !== -1) {
    const cycle = path.slice(at);
    // One entry per cycle, whichever module the search entered it by.
    const first = cycle.indexOf(cycle.toSorted()[0]!);
    const key = [...cycle.slice(first), ...cycle.slice(0, first)];
    cycles.set(key.join("\0"), key);
    return;
  }
  if (done.has(file)) return;
  path.push(file);
  for (const target of imports.get(file) ?? []) visit(target);
  path.pop();
  done.add(file);
}
for (const file of [...files].sort()) visit(file);

const name = (file: string) => relative(root, file);
for (const cycle of cycles.values()) console.log(`import cycle: ${[...cycle, cycle[0]!].map(name).join(" → ")}`);
console.log(`${files.size} modules, ${cycles.size} import cycle${cycles.size === 1 ? "" : "s"}`);
process.exit(cycles.size === 0 ? 0 : 1);
