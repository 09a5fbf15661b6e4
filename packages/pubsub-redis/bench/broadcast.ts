/**
 * Broadcast fan-out: the same load on one @wirehouse/server instance in-process, on
 * two instances relaying through Redis, and on two instances relaying through the
 * in-host socket relay (what `wirehouse serve --workers` uses without Redis), plus the
 * bare adapters' relay rates.
 *
 *   node --import tsx bench/broadcast.ts [--subscribers 1000] [--messages 2000] [--in-flight 8]
 *   deno run -A bench/broadcast.ts ... | bun bench/broadcast.ts ...
 *
 * Everything runs in this process (servers and WebSocket clients, our own client) except
 * redis-server, which the bench starts on a free loopback port and stops. A message is
 * "delivered" when a client's message callback sees it; latency is publish -> that
 * callback, for every (message, subscriber) pair.
 */
import { cpus } from "node:os";
import { connect, createServer, type Server, type WebSocket } from "@wirehouse/server";
import {
  createRedisPubSub,
  createSocketPubSub,
  createSocketRelay,
  type PubSubAdapter,
  type RedisPubSub,
  type SocketPubSub,
} from "../src/index.ts";
import { startRedis } from "../test/redis-server.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SUBSCRIBERS = opt("subscribers", 1000);
const MESSAGES = opt("messages", 2000);
const IN_FLIGHT = opt("in-flight", 8);
const RELAY_MESSAGES = opt("relay-messages", 100_000);
const runtime =
  typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
    ? "deno"
    : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
      ? "bun"
      : `node ${process.version}`;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function roomServer(pubsub?: PubSubAdapter): Server {
  const s = createServer(pubsub ? { pubsub } : {});
  s.websocket("/room", {
    open(ws) {
      ws.subscribe("room");
      ws.send("welcome");
    },
  });
  return s;
}

interface Result {
  deliveries: number;
  seconds: number;
  p50: number;
  p99: number;
  max: number;
}

/** Opens the subscribers, publishes MESSAGES (IN_FLIGHT outstanding) through `publish`, times every delivery. */
async function fanOut(ports: number[], publish: (text: string) => void): Promise<Result> {
  const sent = new Float64Array(MESSAGES);
  const remaining = new Int32Array(MESSAGES).fill(SUBSCRIBERS);
  const lat = new Float64Array(MESSAGES * SUBSCRIBERS);
  let n = 0;
  let next = 0;
  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  const publishNext = () => {
    const i = next++;
    sent[i] = performance.now();
    publish(String(i));
  };
  const sockets: WebSocket[] = [];
  let welcomed = 0;
  let allIn: () => void = () => {};
  const allWelcomed = new Promise<void>((r) => (allIn = r));
  const handler = {
    message(_ws: WebSocket, data: string | Uint8Array) {
      if (data === "welcome") {
        if (++welcomed === SUBSCRIBERS) allIn();
        return;
      }
      const i = Number(data);
      lat[n++] = performance.now() - sent[i]!;
      if (--remaining[i]! === 0) {
        done++;
        if (done === MESSAGES) finish();
        else if (next < MESSAGES) publishNext();
      }
    },
  };
  for (let k = 0; k < SUBSCRIBERS; k++) {
    const port = ports[k % ports.length]!;
    sockets.push(await connect(`ws://127.0.0.1:${port}/room`, { handler }));
  }
  trace(`${sockets.length} connected, ${welcomed} welcomed`);
  await allWelcomed;
  trace("all welcomed");
  const t0 = performance.now();
  for (let k = 0; k < IN_FLIGHT && next < MESSAGES; k++) publishNext();
  await finished;
  trace("finished");
  const seconds = (performance.now() - t0) / 1000;
  for (const ws of sockets) ws.close();
  const sorted = lat.subarray(0, n).sort();
  return { deliveries: n, seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[n - 1]! };
}

/** Bare adapters, no WebSocket: A publishes RELAY_MESSAGES 32-byte messages, B receives them. */
async function relay(make: () => RedisPubSub | SocketPubSub): Promise<{ rate: number; p50: number; p99: number }> {
  const a = make();
  const b = make();
  b.subscribe("r");
  await Promise.all([a.ready(), b.ready()]);
  const payload = new Uint8Array(32);
  const sent = new Float64Array(RELAY_MESSAGES);
  const lat = new Float64Array(RELAY_MESSAGES);
  let got = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  b.onMessage((_t, data) => {
    const i = new DataView(data.buffer, data.byteOffset).getUint32(0);
    lat[got++] = performance.now() - sent[i]!;
    if (got === RELAY_MESSAGES) finish();
  });
  // Let SUBSCRIBE reach Redis: one round trip on the subscribing connection after ready.
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  for (let i = 0; i < RELAY_MESSAGES; i++) {
    new DataView(payload.buffer).setUint32(0, i);
    sent[i] = performance.now();
    a.publish("r", payload, true);
    if (i % 1000 === 999) {
      // Stay under maxPendingPublishes (the adapter would drop, by design, rather than queue).
      if ("flushed" in a && a.stats.pending > 16_000) await a.flushed();
      else await new Promise((r) => setImmediate(r));
    }
  }
  trace(`relay: all published, ${got} received, ${JSON.stringify(a.stats)}`);
  await finished;
  trace("relay: all received");
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all([a.close(), b.close()]);
  trace("relay: closed");
  const sorted = lat.sort();
  return { rate: RELAY_MESSAGES / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

function row(name: string, r: Result): string {
  const rate = Math.round(r.deliveries / r.seconds).toLocaleString("en-US");
  return `| ${name} | ${rate} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} |`;
}

const trace = process.env.BENCH_TRACE ? (m: string) => console.error(m) : () => {};
const redis = await startRedis();
trace("redis up");
try {
  const single = roomServer();
  const { port } = await single.listen({ port: 0, hostname: "127.0.0.1" });
  trace("single listening");
  const inProcess = await fanOut([port], (t) => single.publish("room", t));
  await single.close({ deadline: 500 });

  const quiet = () => {};
  const pa = createRedisPubSub({ url: redis.url, log: quiet });
  const pb = createRedisPubSub({ url: redis.url, log: quiet });
  const sa = roomServer(pa);
  const sb = roomServer(pb);
  const [la, lb] = await Promise.all([
    sa.listen({ port: 0, hostname: "127.0.0.1" }),
    sb.listen({ port: 0, hostname: "127.0.0.1" }),
  ]);
  await Promise.all([pa.ready(), pb.ready()]);
  const viaRedis = await fanOut([la.port, lb.port], (t) => sa.publish("room", t));
  await Promise.all([sa.close({ deadline: 500 }), sb.close({ deadline: 500 })]);

  const relayServer = await createSocketRelay();
  const ra = createSocketPubSub({ address: relayServer.address, log: quiet });
  const rb = createSocketPubSub({ address: relayServer.address, log: quiet });
  const ta = roomServer(ra);
  const tb = roomServer(rb);
  const [lta, ltb] = await Promise.all([
    ta.listen({ port: 0, hostname: "127.0.0.1" }),
    tb.listen({ port: 0, hostname: "127.0.0.1" }),
  ]);
  await Promise.all([ra.ready(), rb.ready()]);
  const viaRelay = await fanOut([lta.port, ltb.port], (t) => ta.publish("room", t));
  await Promise.all([ta.close({ deadline: 500 }), tb.close({ deadline: 500 })]);

  const r = await relay(() => createRedisPubSub({ url: redis.url, log: quiet }));
  const rs = await relay(() => createSocketPubSub({ address: relayServer.address, log: quiet }));
  await relayServer.close();

  console.log(
    `broadcast: ${SUBSCRIBERS} subscribers, ${MESSAGES} messages, ${IN_FLIGHT} in flight, ${runtime}, ${cpus().length} CPUs, clients in the same process\n`,
  );
  console.log("| setup | delivered msg/s | p50 ms | p99 ms | max ms |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  console.log(row("1 instance, in-process", inProcess));
  console.log(row("2 instances via Redis (publisher on one)", viaRedis));
  console.log(row("2 instances via the in-host socket relay (publisher on one)", viaRelay));
  const bare = (name: string, x: { rate: number; p50: number; p99: number }) =>
    console.log(
      `\n${name} A -> B (no WebSocket), ${RELAY_MESSAGES} x 32 B: ${Math.round(x.rate).toLocaleString("en-US")} msg/s, p50 ${x.p50.toFixed(2)} ms, p99 ${x.p99.toFixed(2)} ms (publishing as fast as possible: latency includes queueing)`,
    );
  bare("adapter relay via Redis", r);
  bare("adapter relay via the in-host socket relay", rs);
} finally {
  await redis.stop();
}
