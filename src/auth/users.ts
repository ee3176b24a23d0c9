// Users exist here only as verified token claims: every request makes sure its user's row exists,
// and writes the token's email and name when they changed. A bounded in-process cache of the
// claims already written keeps the common request to one cheap statement that neither locks nor
// writes anything.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { users } from "../db/schema.ts";
import type { VerifiedClaims } from "./verify.ts";

export type UserRegistry = (claims: VerifiedClaims) => Promise<void>;

export function cachedUserUpsert(db: Database, maxCached = 10_000): UserRegistry {
  // Keyed by every stored claim, so a token carrying a new email or name writes it once.
  const written = new Set<string>();
  // Prepared once: building the statement with drizzle cost more CPU than running it.
  const ensureRow = db
    .insert(users)
    .values({ id: sql.placeholder("id"), email: sql.placeholder("email"), name: sql.placeholder("name") })
    .onConflictDoNothing({ target: users.id })
    .prepare("ensure_user");
  return async (claims) => {
    const row = { id: claims.sub, email: claims.email ?? null, name: claims.name ?? null };
    const key = `${claims.sub}\u0000${claims.email ?? ""}\u0000${claims.name ?? ""}`;
    if (written.has(key)) {
      // The row can be deleted outside the service (an erasure request; ON DELETE CASCADE takes
      // the tasks with it), and the cache cannot know: a user it remembered then got a 500 on
      // every create until a restart. DO NOTHING finds the row through the primary key and,
      // unlike DO UPDATE, takes no row lock, so this stays a read while the row exists.
      await ensureRow.execute(row);
      return;
    }
    // A claim the token does not carry keeps the stored value: a bare {sub} token (a script's,
    // `bun run token`'s) must not erase what a Better Auth token said before.
    const email = sql`coalesce(excluded.email, ${users.email})`;
    const name = sql`coalesce(excluded.name, ${users.name})`;
    await db
      .insert(users)
      .values(row)
      .onConflictDoUpdate({
        target: users.id,
        set: { email, name, updatedAt: sql`now()` },
        setWhere: sql`(${users.email}, ${users.name}) is distinct from (${email}, ${name})`,
      });
    // A Set iterates in insertion order: dropping the first entry evicts the oldest.
    if (written.size >= maxCached) written.delete(written.values().next().value as string);
    written.add(key);
  };
}
