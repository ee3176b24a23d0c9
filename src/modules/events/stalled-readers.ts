// Finds event-stream readers that have stopped taking bytes, by what the kernel says of each
// stream's connection, not by what the service wrote: a write lands in the socket's buffers at once,
// so Bun's idle timer sees a stopped reader as alive for as long as those buffers have room.
//
// Measured on Linux 6.18 (`ss -tin`, /proc/net/tcp) with `curl -N` stopped by SIGSTOP: its kernel
// keeps acknowledging into its receive buffer, so bytes are never left unacknowledged, and its
// advertised window does not even move while the unread bytes are few (60 bytes of keep-alives:
// snd_wnd stayed 65536). Only once the reader's buffer is full (about 135 KB for a fresh curl on
// loopback) does its window close and the service's bytes pile up unsent. No cheaper signal exists
// from the sender's side: a reader that is stopped and one that is not look the same until the
// stopped one's buffer is full. So keep-alives carry padding (see KEEPALIVE_PADDING in index.ts)
// that fills a stopped reader's buffer in about 30 s, and this module reads the state of every
// watched connection from /proc/self/net/tcp{,6}, once per SWEEP_MS for the whole process (one file
// read, whatever the number of streams; no getsockopt, which Bun does not expose):
// - window closed: bytes wait to be sent and the zero-window probe timer runs (`tr` 4). The reader
//   has left a buffer's worth of padding unread, about 30 s of it: dropped once seen on two sweeps.
// - no answer: bytes are unacknowledged and retransmitted with no ACK (`tr` 1, `retrnsmt` > 0), as
//   when the peer vanished without a FIN (a phone switching networks). TCP itself would wait ~15
//   minutes; dropped after UNANSWERED_MS of it.
// A reader that is merely slow reopens its window (or acknowledges) between sweeps and is kept.
// Behind a reverse proxy the peer is the proxy: it reads for the client, so a stopped client is
// only seen once the proxy's own buffers for it are full too (docs/api.md says so).
import { readFile } from "node:fs/promises";
import { endianness } from "node:os";

const SWEEP_MS = 5000;
// Retransmissions unanswered this long (plus the keep-alive interval and the first retransmission
// timeout before it) make about 30 s without a byte acknowledged.
const UNANSWERED_MS = 25_000;
// A closed window seen on two sweeps in a row (half a period, whatever the timer's jitter): not a
// reader that paused for a moment.
const WINDOW_CLOSED_MS = SWEEP_MS / 2;
// /proc/net/tcp's `tr` column: which timer runs on the socket.
const RETRANSMIT_TIMER = 1;
const ZERO_WINDOW_PROBE_TIMER = 4;
// /proc/net prints each 32-bit word of an address in host byte order.
const LITTLE_ENDIAN = endianness() === "LE";

export interface Connection {
  /** The port the service accepted the connection on. */
  localPort: number;
  /** The peer, as Bun's server.requestIP() gives it. */
  peer: { address: string; family: string; port: number };
}

export interface WatchedReader {
  /** The connection's last sweep found bytes not yet taken: padding would only add to them. */
  readonly backedUp: boolean;
  stop(): void;
}

export interface StalledReaders {
  /** Calls `onStalled` once when the reader at the other end of `connection` stops taking bytes. */
  watch(connection: Connection, onStalled: () => void): WatchedReader;
}

interface Watched {
  file: "tcp" | "tcp6";
  key: string;
  onStalled: () => void;
  backedUp: boolean;
  // When a sweep first saw the connection stuck, and how.
  stuck?: { since: number; how: "window closed" | "no answer" };
}

interface SocketState {
  pending: number;
  timer: number;
  retransmits: number;
}

const hex = (value: number, digits: number) => value.toString(16).toUpperCase().padStart(digits, "0");

/** 4 bytes of an address as /proc/net prints them. */
function word(bytes: number[]): string {
  const ordered = LITTLE_ENDIAN ? [...bytes].reverse() : bytes;
  return ordered.map((byte) => hex(byte, 2)).join("");
}

function ipv4Bytes(address: string): number[] {
  return address.split(".").map(Number);
}

function ipv6Bytes(address: string): number[] {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = ipv4Bytes(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${hex((a! << 8) | b!, 4)}:${hex((c! << 8) | d!, 4)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = tail === undefined ? groups(head) : [...groups(head), ...Array(missing).fill("0"), ...groups(tail)];
  return all.flatMap((group) => {
    const value = Number.parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}

/** Where /proc/self/net lists the connection, and its line's "local port|remote address:port" key. */
function locate({ localPort, peer }: Connection): Pick<Watched, "file" | "key"> {
  const v6 = peer.family === "IPv6";
  const bytes = v6 ? ipv6Bytes(peer.address) : ipv4Bytes(peer.address);
  const address = [0, 4, 8, 12]
    .slice(0, bytes.length / 4)
    .map((at) => word(bytes.slice(at, at + 4)))
    .join("");
  return { file: v6 ? "tcp6" : "tcp", key: `${hex(localPort, 4)}|${address}:${hex(peer.port, 4)}` };
}

/** The sockets of `file` whose key is wanted, by key. */
async function readSockets(file: "tcp" | "tcp6", wanted: Set<string>): Promise<Map<string, SocketState>> {
  const found = new Map<string, SocketState>();
  const text = await readFile(`/proc/self/net/${file}`, "latin1");
  for (const line of text.split("\n").slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 7) continue;
    const key = `${fields[1]!.slice(fields[1]!.lastIndexOf(":") + 1)}|${fields[2]}`;
    if (!wanted.has(key)) continue;
    found.set(key, {
      pending: Number.parseInt(fields[4]!.split(":")[0]!, 16),
      timer: Number.parseInt(fields[5]!.split(":")[0]!, 16),
      retransmits: Number.parseInt(fields[6]!, 16),
    });
  }
  return found;
}

export function stalledReaders(onError: (cause: unknown) => void): StalledReaders {
  const watched = new Set<Watched>();
  let sweeping: Timer | undefined;
  let busy = false;
  let failed = false;

  const sweep = async () => {
    if (busy) return;
    busy = true;
    try {
      const files = new Map<"tcp" | "tcp6", Set<string>>();
      for (const reader of watched) {
        const keys = files.get(reader.file) ?? new Set();
        files.set(reader.file, keys.add(reader.key));
      }
      const sockets = new Map<string, SocketState>();
      for (const [file, keys] of files)
        for (const [key, state] of await readSockets(file, keys)) sockets.set(key, state);
      const now = Date.now();
      for (const reader of watched) judge(reader, sockets.get(reader.key), now);
    } catch (error) {
      // No /proc (not Linux, or not mounted): streams are then ended by Bun's idle timeout only.
      if (!failed) onError(error);
      failed = true;
    } finally {
      busy = false;
    }
  };

  const judge = (reader: Watched, socket: SocketState | undefined, now: number) => {
    // Gone from the table: the connection is closed, and Bun ends its stream.
    reader.backedUp = (socket?.pending ?? 0) > 0;
    const how = !socket?.pending
      ? undefined
      : socket.timer === ZERO_WINDOW_PROBE_TIMER
        ? "window closed"
        : socket.timer === RETRANSMIT_TIMER && socket.retransmits > 0
          ? "no answer"
          : undefined;
    if (how === undefined) reader.stuck = undefined;
    else if (reader.stuck?.how !== how) reader.stuck = { since: now, how };
    else if (now - reader.stuck.since >= (how === "window closed" ? WINDOW_CLOSED_MS : UNANSWERED_MS)) {
      watched.delete(reader);
      reader.onStalled();
    }
  };

  const stop = (reader: Watched) => {
    watched.delete(reader);
    if (watched.size === 0) {
      clearInterval(sweeping);
      sweeping = undefined;
    }
  };

  return {
    watch(connection, onStalled) {
      const reader: Watched = { ...locate(connection), onStalled, backedUp: false };
      watched.add(reader);
      sweeping ??= setInterval(sweep, SWEEP_MS);
      return {
        get backedUp() {
          return reader.backedUp;
        },
        stop: () => stop(reader),
      };
    },
  };
}
