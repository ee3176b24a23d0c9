// Runs a command with the suite pointed at PostgreSQL through a real transaction-mode PgBouncer,
// started here and stopped when the command ends:
//
//   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bun test/with-pgbouncer.ts bun test test/tasks.test.ts
//
// The command gets TEST_DATABASE_URL (PgBouncer), TEST_DATABASE_DIRECT_URL (PostgreSQL itself, for
// creating and dropping each file's database and for the migrations' lock) and
// TEST_DATABASE_POOLER=transaction; test/helpers.ts reads them. Exits with the command's code.
import { startPgBouncer } from "../harness/pgbouncer.ts";

const direct = process.env.TEST_DATABASE_URL;
const command = process.argv.slice(2);
if (!direct || command.length === 0) {
  console.error("usage: TEST_DATABASE_URL=postgres://… bun test/with-pgbouncer.ts <command…>");
  process.exit(2);
}

const bouncer = await startPgBouncer(direct);
console.log(`pgbouncer (transaction mode) on 127.0.0.1:${bouncer.port} in front of ${new URL(direct).host}`);
const child = Bun.spawn(command, {
  env: {
    ...process.env,
    TEST_DATABASE_URL: bouncer.url,
    TEST_DATABASE_DIRECT_URL: direct,
    TEST_DATABASE_POOLER: "transaction",
  },
  stdio: ["inherit", "inherit", "inherit"],
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
const code = await child.exited;
await bouncer.stop();
process.exit(code);
