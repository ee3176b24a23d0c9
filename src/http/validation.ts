// Turns Elysia's validation failures into the contract's `errors: [{field, message}]`: one entry per
// field, named as the client wrote it, with a message a frontend can show next to that field. The
// message is the schema's own (`error: "must be ..."`), which states the whole rule; TypeBox's
// would name only the first keyword that failed ("Expected string to match '^\s*\S...'").
import type { ValidationError } from "elysia";
import type { FieldError } from "./error-body.ts";
import { brokenTextRule } from "./text.ts";

interface Issue {
  path: string;
  value: unknown;
  message: string;
  schema: Record<string, unknown>;
}

export function fieldErrors(error: Readonly<ValidationError>): FieldError[] {
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  // TypeBox's own issues, not `error.all`: that maps each through Elysia's mapValueError, whose
  // summary puts the value in a template string and throws for an object whose toString is not a
  // function ({"title":{"toString":1}}), so the error handler itself failed with a text/plain 500.
  const validator = error.validator as unknown as { Errors(value: unknown): Iterable<Issue> };
  for (const issue of validator.Errors(error.value)) {
    const field = issue.path.replace(/^\//, "").replaceAll("/", ".") || error.type;
    if (seen.has(field)) continue;
    seen.add(field);
    errors.push({ field, message: messageFor(issue) });
  }
  return errors;
}

function messageFor({ path, value, message, schema }: Issue): string {
  if (value === undefined && path !== "") return "is required";
  const textRule = brokenTextRule(schema, value);
  if (textRule) return textRule;
  // TypeBox's own sentence ("Expected ...") where a schema states no message of its own.
  return typeof schema.error === "string" ? schema.error : message;
}
