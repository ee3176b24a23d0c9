// `bun run token -- --sub alice [--email a@x] [--name Alice] [--ttl 1h]` prints an HS256 token
// signed with BETTER_AUTH_SECRET (or, with nothing configured in development, the secret `bun run
// dev` keeps under DATA_DIR), for curl and scripts. Exit 2: bad arguments; 1: no usable secret.
import { parseArgs } from "node:util";
import { type AuthConfig, ConfigError, loadConfig } from "../config.ts";
import { mintToken, withDevelopmentSecret } from "./dev-token.ts";

const USAGE = "usage: bun run token -- --sub <user id> [--email <email>] [--name <name>] [--ttl <30m|1h|7d>]";

/** Prints the token on stdout, or what is wrong on stderr; returns the exit code. */
export async function tokenCommand(args: string[], auth: AuthConfig): Promise<number> {
  const options = {
    sub: { type: "string" },
    email: { type: "string" },
    name: { type: "string" },
    ttl: { type: "string", default: "1h" },
  } as const;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>["values"];
  try {
    ({ values } = parseArgs({ args, options }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { sub, email, name, ttl } = values;
  if (!sub) {
    console.error(`--sub is required\n${USAGE}`);
    return 2;
  }
  if (auth.secret === undefined) {
    console.error(
      "BETTER_AUTH_SECRET is not set: the server checks tokens against BETTER_AUTH_URL's keys only (get one from the frontend, or set BETTER_AUTH_SECRET on both)",
    );
    return 1;
  }
  try {
    console.log(await mintToken(auth.secret, { sub, email, name }, ttl));
    return 0;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    console.error(`--ttl ${ttl}: expected a time span such as 30m, 1h or 7d\n${USAGE}`);
    return 2;
  }
}

if (import.meta.main) {
  let auth: AuthConfig;
  try {
    const config = loadConfig();
    auth = withDevelopmentSecret(config.auth, config.dataDir);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`config: ${problem}`);
    process.exit(1);
  }
  process.exit(await tokenCommand(process.argv.slice(2), auth));
}
