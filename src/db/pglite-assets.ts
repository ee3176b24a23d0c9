// PGlite's WebAssembly and file-system bundle, imported as files so that `bun build --compile`
// embeds them. PGlite otherwise looks for them next to its own module, which inside the binary is
// /$bunfs/root/… and does not exist (ENOENT pglite.data). Used in every mode, not only in the
// binary, so there is one way PGlite is opened.
import initdbWasmPath from "@electric-sql/pglite/initdb.wasm" with { type: "file" };
import pgliteDataPath from "@electric-sql/pglite/pglite.data" with { type: "file" };
import pgliteWasmPath from "@electric-sql/pglite/pglite.wasm" with { type: "file" };

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
