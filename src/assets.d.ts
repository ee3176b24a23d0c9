// `import path from "…" with { type: "file" }` yields the file's path (inside a compiled binary,
// its embedded /$bunfs path). Bun's types declare no module for these extensions.
declare module "*.wasm" {
  const path: string;
  export default path;
}
declare module "*.data" {
  const path: string;
  export default path;
}
declare module "*/standalone.js" {
  const path: string;
  export default path;
}
declare module "*.tar.gz" {
  const path: string;
  export default path;
}
