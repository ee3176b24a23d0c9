// `--against <git ref>`: that commit's service, from source, loaded in the same interleaved slices
// as today's, so a change is judged as "now / that commit" measured in the same minutes (run one
// after the other on this machine, the same code moved by ±40%). The commit is checked out in a
// temporary worktree with its own lockfile's packages, and gets its own database: made by its own
// migrations, then filled with the template's rows, column by column where the two schemas share
// one. So an older schema (fewer columns) and a newer one are both served the same data.
import { join } from "node:path";
import { SQL } from "bun";
import { freePort } from "../harness/process.ts";
import { children, worktrees } from "./cleanup.ts";
import { fail, ROOT, type Target } from "./options.ts";
import { createDatabase, databaseUrl } from "./seed.ts";

async function run(cmd: string[], cwd: string, env?: Record<string, string>): Promise<string> {
  const proc = Bun.spawn(cmd, { cwd, env: env ?? process.env, stdout: "pipe", stderr: "pipe" });
  children.add(proc);
  const [out, err, code] = await Promise.all([proc.stdout.text(), proc.stderr.text(), proc.exited]);
  children.delete(proc);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${(err || out).trim().slice(-800)}`);
  return out.trim();
}

/** `ref` checked out in `work` with its packages installed: the commit's short hash and its directory. */
export interface Checkout {
  commit: string;
  dir: string;
}

export async function checkOut(ref: string, work: string): Promise<Checkout> {
  const commit = await run(["git", "rev-parse", "--short", `${ref}^{commit}`], ROOT).catch(() =>
    fail(`--against ${ref}: not a commit of this repository`),
  );
  const dir = join(work, `against-${commit}`);
  await run(["git", "worktree", "add", "--detach", dir, commit], ROOT);
  worktrees.push(dir);
  await run(["bun", "install", "--frozen-lockfile"], dir);
  console.log(`bench: ${ref} (${commit}) checked out in ${dir}`);
  return { commit, dir };
}

/** The twin of a service target (same variant: log level, workers, env) that runs the checkout. */
export function againstTarget({ commit, dir }: Checkout, service: Target): Target {
  const [, ...variant] = service.label.split(" ");
  return {
    label: [`service@${commit}`, ...variant].join(" "),
    cmd: [process.execPath, join(dir, "src", "index.ts")],
    // Both run at once: the twin's metrics (--metrics on) need a port of their own.
    env: { ...service.env, ...(service.env.METRICS_PORT && { METRICS_PORT: String(freePort()) }) },
    checkout: dir,
    twinOf: service.label,
  };
}

const TABLES = ["users", "tasks"] as const;
const BATCH_ROWS = 1000;

async function columns(sql: SQL, table: string): Promise<string[]> {
  const rows: { name: string }[] = await sql`
    select column_name as name from information_schema.columns
    where table_schema = 'public' and table_name = ${table} order by ordinal_position`;
  return rows.map((r) => r.name);
}

/**
 * A database for `target` named `name`: migrated by the checked-out commit's own `migrate`, then
 * given the template's users and tasks in the columns both schemas have.
 */
export async function againstDatabase(
  target: Target & { checkout: string },
  serverUrl: string,
  template: string,
  name: string,
): Promise<string> {
  const url = await createDatabase(serverUrl, name);
  await run([...target.cmd, "migrate"], target.checkout, {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    DATABASE_URL: url,
    LOG_LEVEL: "warn",
  });
  const from = new SQL({ url: databaseUrl(serverUrl, template), max: 1 });
  const to = new SQL({ url, max: 1 });
  try {
    for (const table of TABLES) {
      const theirs = new Set(await columns(to, table));
      const shared = (await columns(from, table)).filter((column) => theirs.has(column));
      const rows: Record<string, unknown>[] = await from.unsafe(
        `select ${shared.map((c) => `"${c}"`).join(", ")} from ${table}`,
      );
      for (let at = 0; at < rows.length; at += BATCH_ROWS)
        await to`insert into ${to(table)} ${to(rows.slice(at, at + BATCH_ROWS), ...shared)}`;
    }
    // As the template: vacuumed, so both have their visibility maps set for index-only scans.
    await to`vacuum analyze`;
  } finally {
    await from.close();
    await to.close();
  }
  return url;
}
