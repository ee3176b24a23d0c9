// The one error model of the service: every error answer is an ErrorBody, and a 400 may add one
// FieldError per bad field. The types come from these schemas, which also document the answers in
// the OpenAPI document and type them for Eden.
import { t } from "elysia";
import { TITLE_RULE } from "../rules.ts";

export const FieldError = t.Object({ field: t.String(), message: t.String() });
export type FieldError = typeof FieldError.static;

export const ErrorBody = t.Object({ detail: t.String() }, { examples: [{ detail: "Task not found" }] });
export type ErrorBody = typeof ErrorBody.static;

export const ValidationErrorBody = t.Object(
  {
    detail: t.String(),
    errors: t.Optional(
      t.Array(FieldError, {
        description: "One per bad field; absent when the body is not a JSON object.",
      }),
    ),
  },
  {
    examples: [
      {
        detail: "Invalid request body",
        errors: [{ field: "title", message: TITLE_RULE }],
      },
    ],
  },
);
export type ValidationErrorBody = typeof ValidationErrorBody.static;
