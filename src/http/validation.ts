// Turns Elysia's validation failures into the contract's `errors: [{field, message}]`: one entry per
// field, named as the client wrote it, with a message a frontend can show next to that field.
// A schema may carry its own message (`error: "..."`) where the rule is more than one keyword.
import type { ValidationError } from "elysia";
import type { FieldError } from "./errors.ts";

interface Issue {
  path: string;
  value: unknown;
  message: string;
  schema: Record<string, unknown>;
}

export function fieldErrors(error: Readonly<ValidationError>): FieldError[] {
  const root = (error.validator as { schema?: { type?: unknown } } | undefined)?.schema;
  if (root?.type === "object" && !isObject(error.value)) return [{ field: error.type, message: "must be a JSON object" }];
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

function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function messageFor({ path, value, message, schema }: Issue): string {
  if (value === undefined && path !== "") return "is required";
  if (typeof schema.error === "string") return schema.error;
  const { minimum, maximum, minLength, maxLength } = schema;
  switch (schema.type) {
    case "boolean":
      return "must be true or false";
    case "object":
      return "must be a JSON object";
    case "string":
      if (typeof value !== "string") return "must be a string";
      if (typeof maxLength === "number" && value.length > maxLength) return `must be at most ${maxLength} characters`;
      if (typeof minLength === "number" && value.length < minLength) return `must be at least ${minLength} characters`;
      break;
    case "integer":
    case "number": {
      const kind = schema.type === "integer" ? "an integer" : "a number";
      if (typeof value !== "number" || (schema.type === "integer" && !Number.isInteger(value))) return `must be ${kind}`;
      if (typeof minimum === "number" && value < minimum) return `must be at least ${minimum}`;
      if (typeof maximum === "number" && value > maximum) return `must be at most ${maximum}`;
      break;
    }
  }
  // TypeBox's own sentence ("Expected ..."): still names the rule, if less gracefully.
  return message;
}
