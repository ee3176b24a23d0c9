// What a well-formed text is, decided here once for every string that is stored or names a user:
// the task fields (title, description, the list's `q`) check it through the TypeBox format below,
// and the token verifier checks claims with isClaimText().
//
// PostgreSQL's `text` cannot hold U+0000 (it fails with "invalid byte sequence for encoding UTF8",
// a 500), and an unpaired surrogate has no UTF-8 form at all: the drivers store U+FFFD in its
// place, silently changing the text and merging different strings ("\ud800X" and "\udbffX" both
// become "\ufffdX"). Both are refused where they arrive, naming the field.
import { FormatRegistry } from "elysia/type-system";

/** The TypeBox string format of task text; the OpenAPI document names it too. */
export const TEXT_FORMAT = "well-formed-text";
export const TEXT_RULE = "must be well-formed Unicode text without NUL (U+0000) or unpaired surrogates";

function isWellFormedText(value: string): boolean {
  return value.isWellFormed() && !value.includes("\u0000");
}

FormatRegistry.Set(TEXT_FORMAT, isWellFormedText);

/** Longest claim text kept: `sub` (an index key, so bounded), `email`, `name`. */
const CLAIM_MAX = 255;
// C0, DEL and C1 controls: no identifier or display name needs one, and NUL is among them.
const CONTROL = /\p{Cc}/u;

/**
 * A claim that names or describes a user: 1–255 UTF-16 code units (as lengths count everywhere in
 * this service) of well-formed text, with no control character, and not only whitespace.
 */
export function isClaimText(value: unknown): value is string {
  return (
    typeof value === "string" &&
    value.length <= CLAIM_MAX &&
    isWellFormedText(value) &&
    !CONTROL.test(value) &&
    value.trim() !== ""
  );
}

/**
 * For the validation error handler: the text rule's own message when `value` breaks it in a field
 * whose schema (or one of a union's members) is task text, where the field's message would
 * speak only of its length or type.
 */
export function brokenTextRule(schema: Record<string, unknown>, value: unknown): string | undefined {
  if (typeof value !== "string" || isWellFormedText(value)) return undefined;
  const members = Array.isArray(schema.anyOf) ? (schema.anyOf as Record<string, unknown>[]) : [schema];
  return members.some((member) => member.format === TEXT_FORMAT) ? TEXT_RULE : undefined;
}
