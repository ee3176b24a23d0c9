// Users exist here only as verified token claims: the first request of a user makes its row, and a
// token whose email or name changed writes them. A bounded in-process cache of the claims already
// written keeps every later request free of any statement.
//
// A row deleted outside the service (an erasure; ON DELETE CASCADE takes the tasks with it) while
// the user is cached is not looked for on every request: that cost a round trip per request
// (bench/notes/2026-12-01.md has what it did to get). Instead every statement that needs the row
// makes it again, with the token's email and name: a create's change-number upsert
// (tasks/service.ts) and an Idempotency-Key claim (idempotency/service.ts). Reads of a user
// without a row find nothing, and updates and deletes find no task: nothing fails.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { users } from "../db/schema.ts";
import type { VerifiedClaims } from "./verify.ts";

export type UserRegistry = (claims: Omit<VerifiedClaims, "exp">) => Promise<void>;

export function cachedUserUpsert(db: Database, maxCached = 10_000): UserRegistry {
  // Keyed by every stored claim, so a token carrying a new email or name writes it once.
  const written = new Set<string>();
  return async (claims) => {
    const key = `${claims.sub}\u0000${claims.email ?? ""}\u0000${claims.name ?? ""}`;
    if (written.has(key)) return;
    const row = { id: claims.sub, email: claims.email ?? null, name: claims.name ?? null };
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
