// Users exist here only as verified token claims. The first request of a user upserts its row;
// a bounded in-process cache makes every later request cost no query.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { users } from "../db/schema.ts";
import type { VerifiedClaims } from "./verify.ts";

export type UserRegistry = (claims: VerifiedClaims) => Promise<void>;

export function createUserRegistry(db: Database, maxCached = 10_000): UserRegistry {
  // Keyed by every stored claim, so a token carrying a new email or name writes it once.
  const known = new Set<string>();
  return async (claims) => {
    const key = `${claims.sub}\u0000${claims.email ?? ""}\u0000${claims.name ?? ""}`;
    if (known.has(key)) return;
    // A claim the token does not carry keeps the stored value: a bare {sub} token (a script's,
    // `bun run token`'s) must not erase what a Better Auth token said before.
    const email = sql`coalesce(excluded.email, ${users.email})`;
    const name = sql`coalesce(excluded.name, ${users.name})`;
    await db
      .insert(users)
      .values({ id: claims.sub, email: claims.email ?? null, name: claims.name ?? null })
      .onConflictDoUpdate({
        target: users.id,
        set: { email, name, updatedAt: sql`now()` },
        setWhere: sql`(${users.email}, ${users.name}) is distinct from (${email}, ${name})`,
      });
    // A Set iterates in insertion order: dropping the first entry evicts the oldest.
    if (known.size >= maxCached) known.delete(known.values().next().value as string);
    known.add(key);
  };
}
