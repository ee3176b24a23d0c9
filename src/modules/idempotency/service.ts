// The Idempotency-Key rows: claim a key for one request, keep its answer, release it, prune old rows.
// Every decision about who carries a key out is one statement in the database, so it holds across
// processes and replicas; the clock is the database's own now(), the same for all of them.
import { and, eq, gt, isNull, lte, sql } from "drizzle-orm";
import type { UserIdentity } from "../../auth/plugin.ts";
import type { Database } from "../../db/client.ts";
import { inBatches, type Job } from "../../db/housekeeping.ts";
import { idempotencyKeys, users } from "../../db/schema.ts";

/** How long a 2xx answer is kept for a retry (docs/api.md). */
const KEEP_ANSWER = sql`now() + interval '24 hours'`;

/**
 * How long a claimed key stays "in progress" (409) without an answer. A request that dies with its
 * claim (a killed process, a lost connection to the database while releasing it) frees its key when
 * the lease ends, and the next retry is carried out afresh. The lease must outlast any request, or a
 * retry could run alongside a request still running: one needs a few queries of at most 3 s each
 * (src/db/client.ts), and a stopping process gives requests 10 s (src/index.ts).
 */
const LEASE = sql`now() + interval '30 seconds'`;

export interface KeptAnswer {
  status: number;
  /** The response body as sent; "" for none. */
  body: string;
  location: string | null;
  etag: string | null;
}

export type Claim =
  | { outcome: "claimed"; claim: string }
  | { outcome: "answered"; answer: KeptAnswer }
  | { outcome: "in progress" }
  | { outcome: "other request" };

const liveKey = (userId: string, key: string) =>
  and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key), gt(idempotencyKeys.expiresAt, sql`now()`));

/**
 * Claims `key` for the request whose fingerprint is given, or says why it cannot be. The claim is
 * one INSERT … ON CONFLICT: of two requests racing on a free key (or on one whose lease or 24 hours
 * ran out), exactly one gets the row and the other then reads it as in progress.
 */
export async function claimKey(db: Database, owner: UserIdentity, key: string, fingerprint: string): Promise<Claim> {
  const userId = owner.id;
  // The key's row references the user's: one deleted outside the service is made again in the same
  // statement, which the foreign key's check (run at its end) then finds (src/auth/users.ts).
  const userRow = db
    .$with("owner", { id: sql<string>`id` })
    .as(
      sql`insert into ${users} (id, email, name) values (${owner.id}, ${owner.email}, ${owner.name}) on conflict (id) do nothing returning id`,
    );
  // A key seen taken and then gone (its request answered non-2xx and released it) is claimed again;
  // a key that keeps changing hands that fast is reported as in progress rather than looping.
  for (let attempt = 0; attempt < 3; attempt++) {
    const claim = crypto.randomUUID();
    const fresh = { fingerprint, claim, status: null, body: null, location: null, etag: null, expiresAt: LEASE };
    const [won] = await db
      .with(userRow)
      .insert(idempotencyKeys)
      .values({ userId, key, ...fresh })
      .onConflictDoUpdate({
        target: [idempotencyKeys.userId, idempotencyKeys.key],
        set: { ...fresh, createdAt: sql`now()` },
        setWhere: lte(idempotencyKeys.expiresAt, sql`now()`),
      })
      .returning({ claim: idempotencyKeys.claim });
    if (won) return { outcome: "claimed", claim };
    const [kept] = await db
      .select({
        fingerprint: idempotencyKeys.fingerprint,
        status: idempotencyKeys.status,
        body: idempotencyKeys.body,
        location: idempotencyKeys.location,
        etag: idempotencyKeys.etag,
      })
      .from(idempotencyKeys)
      .where(liveKey(userId, key));
    if (!kept) continue;
    if (kept.fingerprint !== fingerprint) return { outcome: "other request" };
    if (kept.status === null) return { outcome: "in progress" };
    return {
      outcome: "answered",
      answer: { status: kept.status, body: kept.body ?? "", location: kept.location, etag: kept.etag },
    };
  }
  return { outcome: "in progress" };
}

const heldClaim = (userId: string, key: string, claim: string) =>
  and(
    eq(idempotencyKeys.userId, userId),
    eq(idempotencyKeys.key, key),
    eq(idempotencyKeys.claim, claim),
    isNull(idempotencyKeys.status),
  );

/** Keeps the answer of a claimed request for 24 hours. False if the claim was lost (its lease ran out). */
export async function keepAnswer(
  db: Database,
  userId: string,
  key: string,
  claim: string,
  answer: KeptAnswer,
): Promise<boolean> {
  const kept = await db
    .update(idempotencyKeys)
    .set({ ...answer, expiresAt: KEEP_ANSWER })
    .where(heldClaim(userId, key, claim))
    .returning({ claim: idempotencyKeys.claim });
  return kept.length > 0;
}

/** Frees a claimed key whose request was not a success, so that a retry is carried out afresh. */
export async function releaseKey(db: Database, userId: string, key: string, claim: string): Promise<void> {
  await db.delete(idempotencyKeys).where(heldClaim(userId, key, claim));
}

/**
 * Deletes up to `batchSize` expired rows (kept answers past 24 hours, claims past their lease).
 * SKIP LOCKED: replicas pruning at once, or a request taking over an expired key, do not wait on
 * each other. Returns the number of rows deleted.
 */
export async function pruneExpiredKeys(db: Database, batchSize: number): Promise<number> {
  const expired = db
    .select({ userId: idempotencyKeys.userId, key: idempotencyKeys.key })
    .from(idempotencyKeys)
    .where(lte(idempotencyKeys.expiresAt, sql`now()`))
    .limit(batchSize)
    .for("update", { skipLocked: true });
  const rows = await db
    .delete(idempotencyKeys)
    .where(sql`(${idempotencyKeys.userId}, ${idempotencyKeys.key}) in ${expired}`)
    .returning({ key: idempotencyKeys.key });
  return rows.length;
}

/** Expired keys pruned every minute, in batches, by the app's housekeeping (src/db/housekeeping.ts). */
export const pruneKeysJob = (db: Database): Job => ({
  name: "pruning expired idempotency keys",
  everyMs: 60_000,
  run: () => inBatches((batch) => pruneExpiredKeys(db, batch)),
});
