/**
 * @module
 * The Bun transport for the load generator: `Bun.connect` (uSockets, native
 * epoll loop), one handler object shared by every connection, per-connection
 * state in the socket's `data`. Per read one call with the bytes, per write
 * one `send`.
 */
import type { ConnectOptions, Link, Sink, Transport } from "./transport.ts";

interface BunSocket {
  data: State;
  write(data: Uint8Array): number;
  setNoDelay?(on: boolean): boolean;
  terminate(): void;
}
interface BunGlobal {
  connect(options: {
    hostname: string;
    port: number;
    localAddress?: string;
    localPort?: number;
    data: State;
    socket: typeof handlers;
  }): Promise<BunSocket>;
}

interface State {
  sink: Sink;
  socket: BunSocket | undefined;
  /** Bytes the kernel did not take yet, written on `drain`, in order. */
  pending: Uint8Array[];
  closed: boolean;
  host: string;
  port: number;
}

const close = (st: State, error?: string, code?: string) => {
  if (st.closed) return;
  st.closed = true;
  st.sink.onClose(error, code);
};

const errorOf = (st: State, e: unknown): [string, string | undefined] => {
  const code = (e as { code?: string } | undefined)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return [code && !message.includes(code) ? `${code} ${st.host}:${st.port} (${message})` : message, code];
};

/** Writes what it can; keeps the rest (and everything after it) for `drain`. */
const send = (st: State, data: Uint8Array) => {
  const s = st.socket!;
  if (st.pending.length > 0) {
    st.pending.push(data);
    return;
  }
  const n = s.write(data);
  if (n < 0) return close(st, "write failed", "EPIPE");
  if (n < data.length) st.pending.push(data.subarray(n));
};

const handlers = {
  open(s: BunSocket) {
    const st = s.data;
    st.socket = s;
    st.sink.onConnect();
  },
  data(s: BunSocket, d: Uint8Array) {
    s.data.sink.onBytes(d, d.length);
  },
  drain(s: BunSocket) {
    const st = s.data;
    while (st.pending.length > 0 && !st.closed) {
      const d = st.pending[0]!;
      const n = s.write(d);
      if (n < 0) return close(st, "write failed", "EPIPE");
      if (n < d.length) {
        st.pending[0] = d.subarray(n);
        return;
      }
      st.pending.shift();
    }
  },
  close(s: BunSocket, e?: unknown) {
    if (e) close(s.data, ...errorOf(s.data, e));
    else close(s.data);
  },
  error(s: BunSocket, e: unknown) {
    close(s.data, ...errorOf(s.data, e));
  },
  connectError(s: BunSocket, e: unknown) {
    close(s.data, ...errorOf(s.data, e));
  },
  end(s: BunSocket) {
    close(s.data);
  },
};

/** `Bun.connect`, or undefined outside Bun. */
export function transportBun(): Transport | undefined {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (!bun || typeof bun.connect !== "function") return undefined;
  return {
    name: "bun",
    connect(o: ConnectOptions, sink: Sink): Link {
      const st: State = { sink, socket: undefined, pending: [], closed: false, host: o.host, port: o.port };
      bun
        .connect({
          hostname: o.host,
          port: o.port,
          ...(o.localAddress ? { localAddress: o.localAddress } : {}),
          ...(o.localPort ? { localPort: o.localPort } : {}),
          data: st,
          socket: handlers,
        })
        .then(
          (s) => {
            if (o.noDelay) s.setNoDelay?.(true);
          },
          (e: unknown) => close(st, ...errorOf(st, e)),
        );
      return {
        write(data) {
          if (!st.closed && st.socket) send(st, data);
        },
        reset() {
          if (st.closed) return;
          st.closed = true;
          st.socket?.terminate();
        },
      };
    },
  };
}
