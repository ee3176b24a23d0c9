import { fileURLToPath } from "node:url";
import type { NextConfig } from "next";

// Bun installs this workspace's packages under the repository root's node_modules, outside this
// folder, so the bundler and output tracing must look from there.
const repositoryRoot = fileURLToPath(new URL("../..", import.meta.url));

const nextConfig: NextConfig = {
  turbopack: { root: repositoryRoot },
  outputFileTracingRoot: repositoryRoot,
};

export default nextConfig;
