// A TCP proxy whose behaviour a test switches, to put a network fault between the service and its
// database: refused connections, a silent peer, or plain forwarding.
import type { Socket } from "bun";
import { freePort } from "../../harness/process.ts";

/**
 * forward: a plain TCP relay. refuse: nothing listens (connection refused) and open connections
 * are cut, as when the server is down. hang: connections are accepted and every byte either way
 * is swallowed, as with a frozen server or a black-holed network; connections opened while
 * hanging stay dead after the proxy forwards again, as after a middlebox lost their state.
 */
export type ProxyMode = "forward" | "refuse" | "hang";

interface End {
  peer?: Socket<End>;
  pending: Uint8Array[];
  dead: boolean;
}

export interface Proxy {
  port: number;
  mode: ProxyMode;
  set(mode: ProxyMode): void;
  close(): void;
}

export function tcpProxy(target: { hostname: string; port: number }): Proxy {
  const port = freePort();
  const open = new Set<Socket<End>>();
  let mode: ProxyMode = "forward";

  const flush = (to: Socket<End>, queue: Uint8Array[]) => {
    while (queue.length > 0) {
      const chunk = queue[0]!;
      const written = to.write(chunk);
      if (written < chunk.byteLength) {
        queue[0] = chunk.subarray(written);
        return;
      }
      queue.shift();
    }
  };
  const relay = (from: Socket<End>, data: Uint8Array) => {
    if (mode === "hang" || from.data.dead) return;
    const peer = from.data.peer;
    if (peer) {
      peer.data.pending.push(data);
      flush(peer, peer.data.pending);
    } else {
      from.data.pending.push(data); // upstream not connected yet: hold the bytes for it
    }
  };
  const handlers = {
    data: relay,
    drain: (socket: Socket<End>) => flush(socket, socket.data.pending),
    close: (socket: Socket<End>) => {
      open.delete(socket);
      if (!socket.data.dead) socket.data.peer?.end();
    },
    error: () => {},
  };

  let listener: ReturnType<typeof listen> | undefined;
  function listen() {
    return Bun.listen<End>({
      hostname: "127.0.0.1",
      port,
      socket: {
        ...handlers,
        open: (client) => {
          client.data = { pending: [], dead: mode === "hang" };
          open.add(client);
          if (client.data.dead) return;
          Bun.connect<End>({
            ...target,
            data: { pending: [], dead: false, peer: client },
            socket: { ...handlers, connectError: () => void client.end() },
          }).then(
            (upstream) => {
              open.add(upstream);
              const queued = client.data.pending;
              client.data.pending = [];
              client.data.peer = upstream;
              upstream.data.pending.push(...queued);
              flush(upstream, upstream.data.pending);
            },
            () => void client.end(),
          );
        },
      },
    });
  }
  listener = listen();

  return {
    port,
    get mode() {
      return mode;
    },
    set(next) {
      if (next === mode) return;
      if (mode === "hang") for (const socket of open) socket.data.dead = true;
      if (next === "refuse") {
        listener?.stop(true);
        listener = undefined;
        for (const socket of open) socket.terminate();
        open.clear();
      } else if (!listener) {
        listener = listen();
      }
      mode = next;
    },
    close() {
      listener?.stop(true);
      for (const socket of open) socket.terminate();
    },
  };
}
