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
    out[key] = value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
  }
  return out;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const at = (name: Exclude<LogLevel, "silent">) => (msg: string, fields: LogFields = {}) => {
    if (rank[name] < rank[level]) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: name, msg, ...serializable(fields) })}\n`);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
