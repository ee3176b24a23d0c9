// The rules a person can see, each written once: the database's constraints (db/schema.ts), the
// request schemas and their messages (modules/tasks/model.ts), the error example (http/error-body.ts),
// the Idempotency-Key check, docs/api.md's tables (test/docs-rules.test.ts holds them to these) and
// the example frontend's inputs all derive from here. It imports nothing, so a browser bundle can
// import it as well as the service.

/** A task's title, after trimming, in UTF-16 code units (the database's CHECK counts code points, never more). */
export const TITLE_MAX = 200;
export const DESCRIPTION_MAX = 1000;
export const PRIORITIES = ["low", "medium", "high"] as const;
export type Priority = (typeof PRIORITIES)[number];

/** A list page's size: `limit`'s range and default. */
export const LIST_LIMIT_MAX = 500;
export const LIST_LIMIT_DEFAULT = 100;
/** A change-feed page's size. */
export const CHANGES_LIMIT_MAX = 1000;
export const CHANGES_LIMIT_DEFAULT = 500;

/** An Idempotency-Key: 1 to this many printable ASCII characters. */
export const IDEMPOTENCY_KEY_MAX = 255;
/** How long a 2xx answer is kept for a retry with its key. */
export const IDEMPOTENCY_KEEP_HOURS = 24;
/**
 * The most answers kept for one user at a time, so what one user can store through keys is bounded
 * (~7.5 KB an answer at most, measured by test/idempotency.test.ts: ~7.5 MB per user). A write that
 * would keep one more is 429, nothing written, until the oldest expires.
 */
export const IDEMPOTENCY_KEYS_PER_USER = 1000;

/** What a client is told when a title breaks the rule. */
export const TITLE_RULE = `must be 1 to ${TITLE_MAX} characters long after trimming whitespace`;
