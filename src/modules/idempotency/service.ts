// The Idempotency-Key rows. A key's write and the answer kept for its retries are ONE transaction
// (src/db/held-transaction.ts): both commit or neither does, so whatever deadlines or lost answers
// do, a key's write happens at most once, and a request answered 503 either wrote nothing or left
// its answer for the retry. (An answer kept in a transaction of its own could commit without the
// write, or the write without it: the retry then wrote a second time; issue 19.)
//
// "In progress" is a transaction-level advisory lock on the user and key, taken without waiting: a
// second request with the key while the first's transaction runs gets 409 at once, and the lock
// goes with that transaction whatever ends it (a commit, a rollback, a dead connection), so there is
// no lease to wait out. A row, visible only once committed, could not say "in progress" by itself.
// The lock is a transaction's, so it holds through a transaction-mode pooler too.
import { sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { inBatches, type Job } from "../../db/housekeeping.ts";
import { preparedSql, rows } from "../../db/prepared.ts";
import { idempotencyKeys } from "../../db/schema.ts";
import { IDEMPOTENCY_KEEP_HOURS, IDEMPOTENCY_KEYS_PER_USER } from "../../rules.ts";

export interface KeptAnswer {
  status: number;
  /** The response body as sent; "" for none. */
  body: string;
  location: string | null;
  etag: string | null;
}

type Claim =
  | { outcome: "claimed" }
  | { outcome: "answered"; answer: KeptAnswer }
  | { outcome: "in progress" }
  | { outcome: "other request" };

const placeholder = sql.placeholder;
// The first key of the advisory lock that makes one user's keyed writes take turns (keptAnswer).
const USER_KEYED_WRITES = sql.raw("1");

// A 64-bit lock id for the user and key; "\n" is in neither (no control character in a `sub`, only
// printable ASCII in a key), so two different pairs never make the same text.
const keyLock = sql`pg_try_advisory_xact_lock(hashtextextended(${placeholder("userId")}::text || E'\\n' || ${placeholder("key")}::text, 0))`;

// The user's keyed writes take turns, on a transaction-level advisory lock of the user's, so that
// the count of the user's keys made when the answer is kept (a later statement, hence a later
// snapshot) sees every other keyed write of theirs that committed first, and none commits
// meanwhile: the bound is exact under concurrency. Not the user's row: a write locks its task
// before that row (tasks/service.ts), and a keyed write holding the row while it waited for the
// task could wait in a circle with a write holding the task. The two-key form is a lock space of
// its own, apart from the keys' one-key locks.
const keptAnswer = sql`
  select k.fingerprint, k.status, k.body, k.location, k.etag
  from (select pg_advisory_xact_lock(${USER_KEYED_WRITES}, hashtext(${placeholder("userId")}::text))) as turn
    left join ${idempotencyKeys} as k on k.user_id = ${placeholder("userId")} and k.key = ${placeholder("key")}
      and k.expires_at > now()`;

interface KeptRow {
  fingerprint: string | null;
  status: number | null;
  body: string | null;
  location: string | null;
  etag: string | null;
}

/**
 * Claims `key` for this request in `tx` (a transaction held for the request), or says why not: its
 * kept answer, another request with the key still running (in progress), or a kept answer of
 * another request (other request). A claimed key is the transaction's until it ends.
 */
export async function claimKey(tx: Database, userId: string, key: string, fingerprint: string): Promise<Claim> {
  const values = { userId, key };
  const [lock] = await rows<{ free: boolean }>(preparedSql(tx, "claim_key", sql`select ${keyLock} as free`), values);
  if (!lock!.free) return { outcome: "in progress" };
  // After the lock, in a statement of its own: its snapshot has every answer committed before the lock was had.
  const [kept] = await rows<KeptRow>(preparedSql(tx, "kept_answer", keptAnswer), values);
  if (kept!.fingerprint === null) return { outcome: "claimed" };
  if (kept!.fingerprint !== fingerprint) return { outcome: "other request" };
  const { status, body, location, etag } = kept!;
  return { outcome: "answered", answer: { status: status!, body: body ?? "", location, etag } };
}

// The answer is kept only while the user keeps fewer than IDEMPOTENCY_KEYS_PER_USER; a row already there for
// the key can only be one past its 24 hours (a live one was answered under the key's lock).
const keep = sql`
  with mine as (
    select count(*)::int as n, ceil(extract(epoch from min(${idempotencyKeys.expiresAt}) - now()))::int as wait
    from ${idempotencyKeys}
    where ${idempotencyKeys.userId} = ${placeholder("userId")} and ${idempotencyKeys.expiresAt} > now()
  ),
  kept as (
    insert into ${idempotencyKeys} (user_id, key, fingerprint, status, body, location, etag, expires_at)
    select ${placeholder("userId")}, ${placeholder("key")}, ${placeholder("fingerprint")}, ${placeholder("status")}::int,
      ${placeholder("body")}, ${placeholder("location")}, ${placeholder("etag")},
      now() + make_interval(hours => ${IDEMPOTENCY_KEEP_HOURS})
    from mine where mine.n < ${IDEMPOTENCY_KEYS_PER_USER}
    on conflict (user_id, key) do update set fingerprint = excluded.fingerprint, status = excluded.status,
      body = excluded.body, location = excluded.location, etag = excluded.etag, created_at = now(),
      expires_at = excluded.expires_at
    returning 1
  )
  select (select count(*) from kept)::int as kept, mine.wait from mine`;

/**
 * Keeps the answer of the request that claimed `key` in `tx`, for 24 hours; or, when the user
 * already keeps IDEMPOTENCY_KEYS_PER_USER answers, keeps nothing and says in how many seconds the oldest expires.
 */
export async function keepAnswer(
  tx: Database,
  userId: string,
  key: string,
  fingerprint: string,
  answer: KeptAnswer,
): Promise<{ kept: true } | { kept: false; retryAfterSeconds: number }> {
  const [result] = await rows<{ kept: number; wait: number | null }>(preparedSql(tx, "keep_answer", keep), {
    userId,
    key,
    fingerprint,
    ...answer,
  });
  if (result!.kept > 0) return { kept: true };
  return { kept: false, retryAfterSeconds: Math.max(1, result!.wait ?? 1) };
}

/**
 * Deletes up to `batchSize` expired answers (past their 24 hours). SKIP LOCKED: replicas pruning at
 * once, or a request taking over an expired key, do not wait on each other. Returns the number of
 * rows deleted.
 */
export async function pruneExpiredKeys(db: Database, batchSize: number): Promise<number> {
  const expired = db
    .select({ userId: idempotencyKeys.userId, key: idempotencyKeys.key })
    .from(idempotencyKeys)
    .where(sql`${idempotencyKeys.expiresAt} <= now()`)
    .limit(batchSize)
    .for("update", { skipLocked: true });
  const deleted = await db
    .delete(idempotencyKeys)
    .where(sql`(${idempotencyKeys.userId}, ${idempotencyKeys.key}) in ${expired}`)
    .returning({ key: idempotencyKeys.key });
  return deleted.length;
}

/** Expired keys pruned every minute, in batches, by the app's housekeeping (src/db/housekeeping.ts). */
export const pruneKeysJob = (db: Database): Job => ({
  name: "pruning expired idempotency keys",
  everyMs: 60_000,
  run: () => inBatches((batch) => pruneExpiredKeys(db, batch)),
});
