// What docs/api.md promises about Idempotency-Keys, written once: the service, its messages and
// the tests read it from here.

/** How long a 2xx answer is kept for a retry. */
export const KEEP_ANSWER_HOURS = 24;

/**
 * The most answers kept for one user at a time: what one user can store through keys is bounded
 * (~5.4 KB per key at most, a task of the longest fields: ~5.4 MB per user; test/idempotency.test.ts
 * measures it). A write that would keep one more is 429, nothing written, until the oldest expires.
 */
export const KEYS_PER_USER = 1000;
