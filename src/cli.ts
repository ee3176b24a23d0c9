// The command line of the executable: which subcommand to run, or what to print instead.
// Parsed before the configuration is read, so --help and --version work with no environment.
import { version } from "../package.json";

const commands = ["serve", "migrate", "healthcheck"] as const;
type Command = (typeof commands)[number];

type Invocation =
  | { command: Command }
  | { print: string }
  /** A usage error: print it and the usage on stderr, exit 2. */
  | { error: string };

export const usage = `Usage: todo-api [command]

Commands:
  serve        start the HTTP service (default)
  migrate      apply pending database migrations, then exit
  healthcheck  exit 0 if the service on this host's PORT answers GET /health (liveness)
               with 200, else 1 (for container health checks)

Options:
  -h, --help     print this help
  -v, --version  print the version

Configuration is read from the environment (PORT, DATABASE_URL, DATA_DIR, ...); see the README.`;

const isCommand = (arg: string): arg is Command => (commands as readonly string[]).includes(arg);

export function parseArgs(args: readonly string[]): Invocation {
  if (args.length > 1) return { error: `unexpected argument: ${args[1]}` };
  const [arg = "serve"] = args;
  if (arg === "-h" || arg === "--help") return { print: usage };
  if (arg === "-v" || arg === "--version") return { print: version };
  if (isCommand(arg)) return { command: arg };
  return { error: `unknown command: ${arg}` };
}
