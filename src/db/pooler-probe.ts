// Whether a PostgreSQL URL leads to a transaction-mode pooler, asked of the pooler itself at start.
//
// Through such a pooler (PgBouncer's pool_mode = transaction, most hosted "pooled" URLs), the
// service's named prepared statements fail on most requests ("prepared statement … does not
// exist / already exists"), and the migrations' session lock and LISTEN cannot work at all. A user
// who pastes a pooled URL without setting DATABASE_POOLER must be refused at start, not served a
// share of failing requests (issue 19); and a direct or session-mode URL must never be refused.
//
// The tell: a direct connection, or one through a session-mode pooler, is one server backend for
// the client connection's whole life, never shared. A transaction-mode pooler hands the backend a
// client used to the next client that starts a transaction, and gives the first client another
// one while that transaction holds it. So with two client connections A and B: A's backend pid,
// then B's inside a transaction (the same pid: shared), then A's again while B's transaction holds
// its backend (another pid: A's backend changed). Either is impossible without transaction pooling.
// PgBouncer hands out the most recently released server connection first, so its first round
// already tells; poolers that rotate may need more, hence a few rounds.
import { SQL } from "bun";

const ROUNDS = 3;
// A session-mode pooler with one server connection per pool would make B wait for A's forever:
// past this, the answer is "cannot tell", and the service starts as configured.
const PROBE_TIMEOUT_MS = 5000;

/** True when `url` shares server connections between client connections (transaction pooling). */
export async function sharesServerConnections(url: string): Promise<boolean> {
  // Unnamed statements, so the probe itself works through the pooler it looks for.
  const open = () => new SQL({ url, max: 1, prepare: false, connectionTimeout: 2 });
  const a = open();
  const b = open();
  const pidOf = async (client: Pick<SQL, "unsafe">) =>
    ((await client.unsafe("select pg_backend_pid() as pid")) as { pid: number }[])[0]!.pid;
  const probe = async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const first = await pidOf(a);
      const shared = await b.begin(async (tx) => {
        if ((await pidOf(tx)) === first) return true;
        return (await pidOf(a)) !== first;
      });
      if (shared) return true;
    }
    return false;
  };
  const probing = probe();
  probing.catch(() => {}); // after the timeout, closing the clients fails it: nobody waits for it then
  let timer: Timer | undefined;
  try {
    return await Promise.race([
      probing,
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await Promise.all([a.close({ timeout: 0 }), b.close({ timeout: 0 })]);
  }
}
