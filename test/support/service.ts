// The service as a process for a test: from source, or the compiled binary in the suite's binary
// mode (TEST_BINARY), in its own directory with only the environment the test gives it.
import { dirname, join } from "node:path";
import { type RunningProcess, startProcess } from "../../harness/process.ts";
import { testBinary } from "./target.ts";

/** `bun src/index.ts`, or the compiled binary in the suite's binary mode (TEST_BINARY). */
export function startService(env: Record<string, string>, timeoutMs?: number): Promise<RunningProcess> {
  return startProcess(testBinary ? [testBinary] : ["bun", "src/index.ts"], {
    cwd: testBinary ? dirname(testBinary) : join(import.meta.dir, "../.."),
    env: { PATH: process.env.PATH, NODE_ENV: "test", ...env },
    timeoutMs,
  });
}
