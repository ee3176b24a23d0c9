// `bun run example` (from the repository root): the API and this Next.js app with its Better Auth,
// wired to each other, for a first look in a browser. Users (Better Auth's memory adapter) and tasks
// (the API on in-memory PGlite) are both kept in memory, so a restart begins from nothing.
import { startApi, startWeb } from "./stack.ts";

const webUrl = "http://localhost:3000";
const api = await startApi({ port: 8000, webUrl, database: { url: "memory://" }, output: "inherit" });
const web = await startWeb({ port: 3000, apiUrl: api.url, mode: "dev", output: "inherit" }).catch(async (error) => {
  await api.stop();
  throw error;
});

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  await Promise.all([web.stop(), api.stop()]);
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
for (const [name, running] of [
  ["The API", api],
  ["The Next.js app", web],
] as const) {
  void running.proc.exited.then((code) => {
    if (stopping) return;
    console.error(`${name} stopped (exit code ${code}); stopping the other.`);
    void stop(1);
  });
}

console.log(`\nOpen ${web.url} and create an account. The API is at ${api.url}. Ctrl-C stops both.\n`);
