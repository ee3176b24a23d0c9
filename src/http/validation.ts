// Turns Elysia's validation failures into the contract's `errors: [{field, message}]`: one entry per
// field, named as the client wrote it, with a message a frontend can show next to that field. The
// message is the schema's own (`error: "must be ..."`), which states the whole rule; TypeBox's
// would name only the first keyword that failed ("Expected string to match '^\s*\S...'").
import type { ValidationError } from "elysia";
import type { FieldError } from "./error-body.ts";

interface Issue {
  path: string;
  value: unknown;
  message: string;
  schema: Record<string, unknown>;
}

export function fieldErrors(error: Readonly<ValidationError>): FieldError[] {
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  for (const issue of error.all as Issue[]) {
    const field = issue.path.replace(/^\//, "").replaceAll("/", ".") || error.type;
    if (seen.has(field)) continue;
    seen.add(field);
    errors.push({ field, message: messageFor(issue) });
  }
  return errors;
}

function messageFor({ path, value, message, schema }: Issue): string {
  if (value === undefined && path !== "") return "is required";
  // TypeBox's own sentence ("Expected ...") where a schema states no message of its own.
  return typeof schema.error === "string" ? schema.error : message;
}
