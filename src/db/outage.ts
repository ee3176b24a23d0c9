// What counts as "the database is unavailable" (503) rather than "this query is wrong" (4xx/500).
import { SQL } from "bun";

export class DatabaseTimeoutError extends Error {
  constructor(ms: number) {
    super(`The database did not answer within ${ms} ms`);
    this.name = "DatabaseTimeoutError";
  }
}

// Bun's own codes for a connection that could not be made or was lost.
const UNAVAILABLE_CODES = new Set([
  "ERR_POSTGRES_CONNECTION_CLOSED",
  "ERR_POSTGRES_CONNECTION_FAILED",
  "ERR_POSTGRES_CONNECTION_REFUSED",
  "ERR_POSTGRES_CONNECTION_TIMEOUT",
  "ERR_POSTGRES_IDLE_TIMEOUT",
  "ERR_POSTGRES_LIFETIME_TIMEOUT",
]);

/** SQLSTATEs that say "the server cannot serve now", not "this query is wrong". */
function unavailableState(state: string): boolean {
  return (
    state.startsWith("08") || // connection exception
    state.startsWith("57P") || // admin_shutdown, crash_shutdown, cannot_connect_now
    state === "57014" || // statement_timeout: the server gave up on our deadline
    state === "53300" // too_many_connections
  );
}

/**
 * True for errors that mean the database cannot be reached or did not answer in time, false for
 * everything the query itself caused (a constraint violation, a syntax error). Drizzle wraps the
 * driver's error in `cause`, so the chain is walked.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DatabaseTimeoutError) return true;
    if (e instanceof SQL.PostgresError) return UNAVAILABLE_CODES.has(e.code) || unavailableState(e.errno ?? "");
  }
  return false;
}
