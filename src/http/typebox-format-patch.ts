// TypeBox's string formats are global and run for every value of every request and response:
// the `id` and three timestamps of each task in a response (a list page has 50 tasks).
//
// @elysiajs/openapi bundles @sinclair/typemap, which on import replaces some of them with checks
// that build a zod schema on every call: 42 µs instead of 0.8 µs per `uuid` on this machine.
// This puts back the checks Elysia registers itself. Importing the plugin here first makes sure
// this module's body runs after its replacements, wherever this module is imported from.
// ("date" is replaced too, but Elysia's own check for it is not exported and no schema uses it.)
import "@elysiajs/openapi";
import { FormatRegistry } from "elysia/type-system";
import { fullFormats } from "elysia/type-system/format";

for (const name of ["duration", "email", "ipv4", "ipv6", "time", "url", "uuid"] as const) {
  const check = fullFormats[name];
  FormatRegistry.Set(name, check instanceof RegExp ? (value) => check.test(value) : check);
}

// Elysia's "date-time" check parses every value with `new Date()`, 15% of a list request's CPU.
// A string exactly as toISOString() prints it, with every field in range, is one that check
// accepts (it even accepts April 31, as `new Date()` rolls it over), so it passes at once;
// anything else still goes through Elysia's check.
const elysiaDateTime = FormatRegistry.Get("date-time")!;
const CANONICAL = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
FormatRegistry.Set("date-time", (value) => CANONICAL.test(value) || elysiaDateTime(value));
