// Through a transaction-mode pooler: DATABASE_POOLER and DATABASE_DIRECT_URL are validated at
// start, and against a real PgBouncer the service's statements work, the server-side deadline
// holds without a startup parameter, and the session URL carries LISTEN.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { sql } from "drizzle-orm";
import { hasPgBouncer, type PgBouncer, startPgBouncer } from "../harness/pgbouncer.ts";
import type { RunningProcess } from "../harness/process.ts";
import { loadConfig } from "../src/config.ts";
import { openPostgres, type PostgresHandle } from "../src/db/client.ts";
import { isDatabaseUnavailable } from "../src/db/outage.ts";
import {
  configProblems,
  driver,
  freshDatabase,
  pooler,
  TEST_SECRET,
  type TestDatabase,
  testBinary,
  tokenFor,
} from "./helpers.ts";
import { startService } from "./support/service.ts";

const NEON_POOLED = "postgres://u:p@ep-cool-name-123456-pooler.eu-central-1.aws.neon.tech/db";

describe("DATABASE_POOLER and DATABASE_DIRECT_URL", () => {
  test("a transaction-mode pooler with a direct URL: unnamed statements, migrations over the direct URL", () => {
    const config = loadConfig({
      DATABASE_URL: "postgres://u@pooler:6432/db",
      DATABASE_DIRECT_URL: "postgres://u@db:5432/db",
      DATABASE_POOLER: "transaction",
    });
    expect(config).toMatchObject({ databasePooler: "transaction", databaseDirectUrl: "postgres://u@db:5432/db" });
  });

  test("a transaction-mode pooler without a direct URL is refused, naming both variables", () => {
    expect(configProblems({ DATABASE_URL: "postgres://u@pooler:6432/db", DATABASE_POOLER: "transaction" })).toEqual([
      "DATABASE_POOLER=transaction: set DATABASE_DIRECT_URL to a connection that keeps a session (to PostgreSQL " +
        "itself or a session-mode pooler); the migrations' lock cannot be held through a transaction-mode pooler",
    ]);
  });

  test("pooled URLs of Neon and Supabase (port 6543) are known transaction-mode poolers; DATABASE_POOLER=none overrides", () => {
    const direct = { DATABASE_DIRECT_URL: "postgres://u@db/x" };
    expect(loadConfig({ DATABASE_URL: NEON_POOLED, ...direct }).databasePooler).toBe("transaction");
    const supabase = "postgres://postgres.ref:p@aws-0-eu-central-1.pooler.supabase.com";
    expect(loadConfig({ DATABASE_URL: `${supabase}:6543/postgres`, ...direct }).databasePooler).toBe("transaction");
    // Port 5432 of the same host is Supabase's session-mode pooler: sessions and prepared statements work.
    expect(loadConfig({ DATABASE_URL: `${supabase}:5432/postgres` }).databasePooler).toBe("none");
    expect(loadConfig({ DATABASE_URL: "postgres://u@db.example.com/x" }).databasePooler).toBe("none");
    expect(loadConfig({ DATABASE_URL: NEON_POOLED, DATABASE_POOLER: "none" }).databasePooler).toBe("none");
    expect(configProblems({ DATABASE_URL: NEON_POOLED })).toEqual([
      "DATABASE_URL: ep-cool-name-123456-pooler.eu-central-1.aws.neon.tech is a transaction-mode pooler " +
        "(DATABASE_POOLER=none if not): set DATABASE_DIRECT_URL to a connection that keeps a session (to " +
        "PostgreSQL itself or a session-mode pooler); the migrations' lock cannot be held through a transaction-mode pooler",
    ]);
  });

  test.each([
    [
      "DATABASE_POOLER",
      { DATABASE_POOLER: "pgbouncer" },
      "DATABASE_POOLER=pgbouncer: expected one of none, transaction",
    ],
    [
      "DATABASE_DIRECT_URL",
      { DATABASE_URL: "postgres://u@db/x", DATABASE_DIRECT_URL: "mysql://u:secret@db/x" },
      "DATABASE_DIRECT_URL=mysql://u:***@db/x: expected a URL starting with postgres:// or postgresql://",
    ],
    [
      "DATABASE_DIRECT_URL",
      { DATABASE_DIRECT_URL: "postgres://u@db/x" },
      "DATABASE_DIRECT_URL: only used with a PostgreSQL DATABASE_URL; set that too",
    ],
    [
      "DATABASE_POOLER",
      { DATABASE_POOLER: "transaction", DATABASE_URL: "memory://" },
      "DATABASE_POOLER=transaction: a pooler needs a PostgreSQL DATABASE_URL",
    ],
  ])("a bad %s is refused with a message naming it", (_, env, message) => {
    expect(configProblems(env)).toEqual([message]);
  });

  test("the process exits 1 at start naming DATABASE_DIRECT_URL, before touching the database", async () => {
    const proc = Bun.spawn(["bun", "src/index.ts"], {
      // Nothing listens on port 1: reaching for the database would fail differently.
      env: { PATH: process.env.PATH, DATABASE_URL: "postgres://u@127.0.0.1:1/x", DATABASE_POOLER: "transaction" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stderr).text()).toStartWith(
      "config: DATABASE_POOLER=transaction: set DATABASE_DIRECT_URL",
    );
    expect(await new Response(proc.stdout).text()).toBe("");
  });
});

// Needs PostgreSQL and Debian's pgbouncer. The file starts its own PgBouncer in front of the
// suite's server, so in the suite's pooled run (test/with-pgbouncer.ts) it skips, and against the
// binary it would only repeat the in-process checks.
const real = driver === "postgres" && pooler === "none" && hasPgBouncer && !testBinary;

describe.skipIf(!real)(`through a real transaction-mode PgBouncer (${driver})`, () => {
  let direct: TestDatabase;
  let bouncer: PgBouncer;
  let pooled: PostgresHandle;

  beforeAll(async () => {
    direct = await freshDatabase({ migrated: false });
    bouncer = await startPgBouncer(direct.url!, { poolSize: 4 });
    pooled = openPostgres(bouncer.url, 10, { directUrl: direct.url, pooler: "transaction" });
    await pooled.migrate();
  }, 60_000);
  afterAll(async () => {
    await pooled?.close();
    await bouncer?.stop();
    await direct?.close();
  });

  test("the session URL is the direct one", () => {
    expect(pooled.sessionUrl).toBe(direct.url!);
  });

  test("200 concurrent statements of different shapes share 4 server connections", async () => {
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 2
          ? pooled.db.execute(sql`select ${i}::int as n, pg_backend_pid() as pid`)
          : pooled.db.execute(sql`select ${i}::int + ${1}::int - 1 as n, pg_backend_pid() as pid`),
      ),
    );
    const rows = answers.map((answer) => (answer as unknown as { n: number; pid: number }[])[0]!);
    expect(rows.map((row) => row.n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(new Set(rows.map((row) => row.pid)).size).toBeLessThanOrEqual(4);
  });

  test("the server cancels a statement after 3 s without a startup parameter", async () => {
    const [setting] = (await pooled.db.execute(
      sql`select current_setting('statement_timeout') as timeout`,
    )) as unknown as {
      timeout: string;
    }[];
    expect(setting?.timeout).toBe("3s");
    // Straight through PgBouncer, without the service's client-side deadline: the server ends it.
    const client = new SQL({ url: bouncer.url, max: 1, prepare: false });
    const started = performance.now();
    const error = await client`select pg_sleep(10)`.then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = performance.now() - started;
    await client.close();
    expect((error as { errno?: string }).errno).toBe("57014");
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(ms).toBeGreaterThan(2900);
    expect(ms).toBeLessThan(6000);
  }, 15_000);

  test("LISTEN on a session URL connection hears a NOTIFY sent through the pooler", async () => {
    const listener = new SQL({ url: pooled.sessionUrl, max: 1 });
    const heard = new Promise<string>((resolve) => {
      void listener.listen("task_events", resolve);
    });
    await Bun.sleep(100);
    await pooled.db.execute(sql`select pg_notify('task_events', 'hello')`);
    expect(await Promise.race([heard, Bun.sleep(5000).then(() => "nothing within 5 s")])).toBe("hello");
    await listener.close();
  });
});

/**
 * 40 clients at once, each creating a task and listing its tasks 10 times, as issue 19 measured a
 * pooled URL with: the statuses of the 800 answers.
 */
async function createAndList(service: RunningProcess): Promise<number[]> {
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: 40 }, async (_, client) => {
      const headers = { authorization: `Bearer ${await tokenFor(`client-${client}`)}` };
      for (let i = 0; i < 10; i++) {
        const created = await fetch(`${service.url}/api/tasks`, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify({ title: `task ${i}` }),
        });
        const listed = await fetch(`${service.url}/api/tasks`, { headers });
        statuses.push(created.status, listed.status);
        await Promise.all([created.arrayBuffer(), listed.arrayBuffer()]);
      }
    }),
  );
  return statuses;
}

const serviceCommand = testBinary ? [testBinary] : ["bun", "src/index.ts"];

// The service as a process (or the binary) behind its own PgBouncer: needs PostgreSQL straight,
// hence not in the suite's pooled run.
describe.skipIf(driver !== "postgres" || pooler !== "none" || !hasPgBouncer)(
  `a pooled DATABASE_URL without DATABASE_POOLER (${driver}${testBinary ? ", binary" : ""})`,
  () => {
    test("through a transaction-mode PgBouncer: exit 1 at start naming DATABASE_POOLER, the database untouched", async () => {
      const database = await freshDatabase({ migrated: false });
      const bouncer = await startPgBouncer(database.url!, { poolSize: 4 });
      try {
        const proc = Bun.spawn(serviceCommand, {
          cwd: testBinary ? undefined : `${import.meta.dir}/..`,
          env: { PATH: process.env.PATH, DATABASE_URL: bouncer.url, BETTER_AUTH_SECRET: TEST_SECRET, PORT: "0" },
          stdout: "pipe",
          stderr: "pipe",
        });
        expect(await proc.exited).toBe(1);
        expect(await new Response(proc.stderr).text()).toBe(
          `config: DATABASE_URL: 127.0.0.1:${bouncer.port} hands one server connection to several clients, as a ` +
            "transaction-mode pooler does (PgBouncer's pool_mode = transaction, a hosted pooled URL): set " +
            "DATABASE_POOLER=transaction, and DATABASE_DIRECT_URL to a connection that keeps a session (to " +
            "PostgreSQL itself or a session-mode pooler)\n",
        );
        expect(await new Response(proc.stdout).text()).toBe("");
        // Refused before the migrations: not a table was made.
        const [tables] = (await database.db.execute(
          sql`select count(*)::int as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`,
        )) as unknown as { n: number }[];
        expect(tables!.n).toBe(0);
      } finally {
        await bouncer.stop();
        await database.close();
      }
    }, 60_000);

    test("the same PgBouncer with DATABASE_POOLER=transaction and a direct URL: 40 clients × 10 create + list, no 5xx", async () => {
      const database = await freshDatabase({ migrated: false });
      const bouncer = await startPgBouncer(database.url!, { poolSize: 4 });
      const service = await startService({
        DATABASE_URL: bouncer.url,
        DATABASE_POOLER: "transaction",
        DATABASE_DIRECT_URL: database.url!,
        BETTER_AUTH_SECRET: TEST_SECRET,
      });
      try {
        const statuses = await createAndList(service);
        expect(statuses.filter((status) => status >= 500)).toEqual([]);
        expect(statuses).toHaveLength(800);
      } finally {
        await service.stop();
        await bouncer.stop();
        await database.close();
      }
    }, 120_000);

    for (const through of ["a session-mode PgBouncer", "PostgreSQL straight"] as const) {
      test(`${through}, DATABASE_URL alone, is not mistaken for one: it serves 40 clients × 10 create + list, no 5xx`, async () => {
        const database = await freshDatabase({ migrated: false });
        const bouncer =
          through === "PostgreSQL straight" ? undefined : await startPgBouncer(database.url!, { poolMode: "session" });
        const service = await startService({
          DATABASE_URL: bouncer?.url ?? database.url!,
          BETTER_AUTH_SECRET: TEST_SECRET,
        });
        try {
          const statuses = await createAndList(service);
          expect(statuses.filter((status) => status >= 500)).toEqual([]);
          expect(statuses).toHaveLength(800);
        } finally {
          await service.stop();
          await bouncer?.stop();
          await database.close();
        }
      }, 120_000);
    }
  },
);
