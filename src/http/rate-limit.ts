// An optional per-user request budget for /api routes (RATE_LIMIT_PER_MINUTE), so one token cannot
// take the whole service. It is counted in this process only: with several processes each keeps
// its own count, and limits by IP or across instances belong in a gateway (README).
import { metrics } from "../observability/metrics.ts";
import { HttpError } from "./errors.ts";

class RateLimitedError extends HttpError {
  constructor(perMinute: number, retryAfterSeconds: number) {
    metrics.rateLimited();
    super(429, `Too many requests: at most ${perMinute} per minute; retry in ${retryAfterSeconds} s`, {
      "retry-after": String(retryAfterSeconds),
    });
  }
}

const WINDOW_MS = 60_000;

/**
 * GCRA (a token bucket kept as one number per user): a user may spend the whole minute's budget
 * at once, then one request per `WINDOW_MS / perMinute`. Returns 0 when the request may go, else
 * the seconds to wait.
 */
export function createRateLimiter(perMinute: number, maxUsers = 100_000, now: () => number = Date.now) {
  const interval = WINDOW_MS / perMinute;
  // When each user's bucket is next empty again; insertion order is the order of last use.
  const emptyAt = new Map<string, number>();
  return (userId: string): number => {
    const t = now();
    const next = Math.max(emptyAt.get(userId) ?? t, t) + interval;
    if (next - t > WINDOW_MS) return Math.ceil((next - t - WINDOW_MS) / 1000);
    emptyAt.delete(userId);
    emptyAt.set(userId, next);
    // Bounded memory: the least recently seen user goes first (it may lose what it had spent).
    if (emptyAt.size > maxUsers) emptyAt.delete(emptyAt.keys().next().value as string);
    return 0;
  };
}

/**
 * Spends one request of `userId`'s budget, or throws RateLimitedError when it has none left. With
 * `perMinute` 0 (the default) there is no budget.
 */
export function requestBudget(perMinute: number): (userId: string) => void {
  if (perMinute <= 0) return () => {};
  const take = createRateLimiter(perMinute);
  return (userId) => {
    const wait = take(userId);
    if (wait > 0) throw new RateLimitedError(perMinute, wait);
  };
}
