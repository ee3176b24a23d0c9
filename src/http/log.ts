// Structured logs: one JSON object per line on stdout, so a log shipper needs no parser.
// Errors keep their stack here and only here; responses never carry one.
import type { LogLevel } from "../config.ts";

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

function serializable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? describeError(value) : value;
  }
  return out;
}

/**
 * An error with its stack and the chain of its causes. A failed drizzle query (DrizzleQueryError)
 * puts the query's parameters, which are the caller's data, in its message and stack: only its SQL
 * text and call sites are kept.
 */
function describeError(error: Error, depth = 0): LogFields {
  const described: LogFields =
    "query" in error && "params" in error
      ? {
          name: "DrizzleQueryError",
          query: error.query,
          stack: error.stack
            ?.split("\n")
            .filter((line) => line.startsWith("    at "))
            .join("\n"),
        }
      : { name: error.name, message: error.message, stack: error.stack };
  // Bun's SQL errors: its own code (ERR_POSTGRES_…) and the server's SQLSTATE.
  for (const key of ["code", "errno"] as const) {
    const value = (error as { [k in typeof key]?: unknown })[key];
    if (typeof value === "string") described[key] = value;
  }
  if (error.cause instanceof Error && depth < 4) described.cause = describeError(error.cause, depth + 1);
  return described;
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const at =
    (name: Exclude<LogLevel, "silent">) =>
    (msg: string, fields: LogFields = {}) => {
      if (rank[name] < rank[level]) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level: name, msg, ...serializable(fields) })}\n`);
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
