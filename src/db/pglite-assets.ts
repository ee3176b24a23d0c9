// PGlite's WebAssembly and file-system bundle, imported as files so that `bun build --compile`
// embeds them. PGlite otherwise looks for them next to its own module, which inside the binary is
// /$bunfs/root/… and does not exist (ENOENT pglite.data). Used in every mode, not only in the
// binary, so there is one way PGlite is opened.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import initdbWasmPath from "@electric-sql/pglite/initdb.wasm" with { type: "file" };
import pgliteDataPath from "@electric-sql/pglite/pglite.data" with { type: "file" };
import pgliteWasmPath from "@electric-sql/pglite/pglite.wasm" with { type: "file" };
// The contrib bundles behind `q`'s index (migration 0011). The package exports no path for them.
import btreeGinPath from "../../node_modules/@electric-sql/pglite/dist/btree_gin.tar.gz" with { type: "file" };
import pgTrgmPath from "../../node_modules/@electric-sql/pglite/dist/pg_trgm.tar.gz" with { type: "file" };

interface PgliteAssets {
  pgliteWasmModule: WebAssembly.Module;
  initdbWasmModule: WebAssembly.Module;
  fsBundle: Blob;
}

let compiled: Promise<Omit<PgliteAssets, "fsBundle">> | undefined;

/** The options PGlite.create() needs to load from the embedded files; wasm is compiled once. */
export async function pgliteAssets(): Promise<PgliteAssets> {
  compiled ??= (async () => {
    const [pgliteWasmModule, initdbWasmModule] = await Promise.all([
      WebAssembly.compile(await Bun.file(pgliteWasmPath).arrayBuffer()),
      WebAssembly.compile(await Bun.file(initdbWasmPath).arrayBuffer()),
    ]);
    return { pgliteWasmModule, initdbWasmModule };
  })();
  // PGlite reads the bundle once per instance; a lazy Bun.file costs nothing until then.
  return { ...(await compiled), fsBundle: Bun.file(pgliteDataPath) };
}

const EXTENSIONS = { pg_trgm: pgTrgmPath, btree_gin: btreeGinPath };

/**
 * Runs `open` with PGlite's `extensions` option naming copies of the bundles in `dir`, a directory
 * only this process uses, made for it and removed once it is done (PGlite reads them while it
 * starts, never after). PGlite reads a bundle with fs.createReadStream, which cannot open a file
 * embedded in a compiled binary (ENOENT for /$bunfs/…, while Bun.file reads it); a copy works the
 * same everywhere.
 */
export async function withExtensions<T>(
  dir: string,
  open: (extensions: Record<string, URL>) => Promise<T>,
): Promise<T> {
  // What a process killed while it started left behind.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    const extensions: Record<string, URL> = {};
    for (const [name, path] of Object.entries(EXTENSIONS)) {
      const copy = join(dir, `${name}.tar.gz`);
      await Bun.write(copy, Bun.file(path));
      extensions[name] = pathToFileURL(copy);
    }
    return await open(extensions);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
