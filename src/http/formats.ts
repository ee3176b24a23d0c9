// @elysiajs/openapi bundles @sinclair/typemap, which on import replaces some of TypeBox's global
// string formats with checks that build a zod schema on every call: 42 µs instead of 0.8 µs per
// `uuid` on this machine, paid for the `id` of every task in every response (50 per list page).
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
