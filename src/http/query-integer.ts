// An integer query parameter (limit, offset), checked as the text it arrives as.
import { t } from "elysia";
import { FormatRegistry } from "elysia/type-system";

/**
 * An integer query parameter, checked as the text it arrives as. Elysia's t.Integer checks bounds
 * only after decoding, in an error that has lost the parameter's name; a format on the text keeps
 * every failure in the first pass, which names each bad parameter.
 */
export function queryInteger(minimum: number, maximum: number, defaultValue: number) {
  const format = `integer from ${minimum} to ${maximum}`;
  FormatRegistry.Set(format, (text) => /^\d{1,16}$/.test(text) && Number(text) >= minimum && Number(text) <= maximum);
  return t
    .Transform(t.String({ format, default: String(defaultValue), error: `must be an ${format}` }))
    .Decode((text) => Number(text))
    .Encode((value) => String(value));
}
