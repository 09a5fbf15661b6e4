/**
 * Two real @wirehouse/server instances on loopback, each with its own Redis adapter,
 * WebSocket clients on each: a publish on either reaches every subscriber exactly once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect, createServer, type Server, type WebSocket } from "@wirehouse/server";
import { createRedisPubSub, type RedisPubSub } from "../src/index.ts";
import { type RedisProcess, startRedis } from "./redis-server.ts";

interface Client {
  ws: WebSocket;
  got: { data: string | Uint8Array; binary: boolean }[];
  until(n: number): Promise<void>;
}

async function client(port: number, name: string): Promise<Client> {
  const got: Client["got"] = [];
  let want = Number.POSITIVE_INFINITY;
  let wake: (() => void) | null = null;
  let welcome: () => void = () => {};
  const welcomed = new Promise<void>((r) => (welcome = r));
  const ws = await connect(`ws://127.0.0.1:${port}/room`, {
    handler: {
      message(_ws, data, binary) {
        if (data === "welcome") return welcome();
        got.push({ data, binary });
        if (got.length >= want && wake) {
          const w = wake;
          wake = null;
          w();
        }
      },
    },
  });
  await welcomed; // subscribed on the server side
  return {
    ws,
    got,
    until: (n) =>
      new Promise((resolve, reject) => {
        if (got.length >= n) return resolve();
        want = n;
        const t = setTimeout(() => reject(new Error(`${name}: ${got.length} of ${n} messages`)), 15_000);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      }),
  };
}

/**
 * A server whose /room clients' messages go to the topic "room": by `server.publish` (every
 * subscriber), or with `from: "socket"` by `ws.publish` (every subscriber but the sender).
 */
function serverWith(adapter: RedisPubSub, from: "server" | "socket" = "server"): Server {
  const s = createServer({ pubsub: adapter });
  s.websocket("/room", {
    open(ws) {
      ws.subscribe("room");
      ws.send("welcome");
    },
    message(ws, data, binary) {
      // Here at once and, through the adapter, on the other instance.
      if (from === "socket") ws.publish("room", data, { binary });
      else s.publish("room", data, binary);
    },
  });
  return s;
}

/** Both servers listening on loopback, both adapters connected. */
async function twoInstances(pa: RedisPubSub, pb: RedisPubSub, from: "server" | "socket") {
  const sa = serverWith(pa, from);
  const sb = serverWith(pb, from);
  const [{ port: portA }, { port: portB }] = await Promise.all([
    sa.listen({ port: 0, hostname: "127.0.0.1" }),
    sb.listen({ port: 0, hostname: "127.0.0.1" }),
  ]);
  await Promise.all([pa.ready(), pb.ready()]);
  return { sa, sb, portA, portB };
}

describe("two @wirehouse/server instances over Redis", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  it("clients on either instance get every message once, per-publisher order kept, binary and text", async () => {
    const logs: string[] = [];
    const log = (level: string, m: string) => logs.push(`${level}: ${m}`);
    const pa = createRedisPubSub({ url: redis.url, instanceId: "A", log });
    const pb = createRedisPubSub({ url: redis.url, instanceId: "B", log });
    const { sa, sb, portA, portB } = await twoInstances(pa, pb, "server");
    const clients = [
      await client(portA, "a1"),
      await client(portA, "a2"),
      await client(portB, "b1"),
      await client(portB, "b2"),
    ];
    try {
      await Promise.all([pa.ready(), pb.ready()]);
      // Both instances subscribed: presence sees 1 per instance (the server subscribes once per topic).
      await waitFor(async () => (await pa.presence.count("room")) === 2);

      const n = 200;
      for (let i = 0; i < n; i++) {
        clients[0]!.ws.send(`a:${i}`);
        clients[2]!.ws.send(`b:${i}`);
      }
      const bin = new Uint8Array([0xff, 0, 0xfe, 1]);
      clients[3]!.ws.send(bin);
      for (const c of clients) await c.until(2 * n + 1);
      for (const c of clients) {
        assert.equal(c.got.length, 2 * n + 1, "exactly once");
        const next = { a: 0, b: 0 };
        for (const g of c.got) {
          if (g.binary) {
            assert.deepEqual(new Uint8Array(g.data as Uint8Array), bin);
            continue;
          }
          const [who, i] = (g.data as string).split(":") as ["a" | "b", string];
          assert.equal(Number(i), next[who]++, `order of ${who}`);
        }
        assert.deepEqual(next, { a: n, b: n });
      }
      assert.equal(pa.stats.received, n + 1);
      assert.equal(pb.stats.received, n);
    } finally {
      for (const c of clients) c.ws.close();
      await Promise.all([sa.close({ deadline: 500 }), sb.close({ deadline: 500 })]);
    }
  });

  it("ws.publish reaches every other subscriber on both instances once, never the sender", async () => {
    const pa = createRedisPubSub({ url: redis.url, instanceId: "A2" });
    const pb = createRedisPubSub({ url: redis.url, instanceId: "B2" });
    const { sa, sb, portA, portB } = await twoInstances(pa, pb, "socket");
    const [a1, a2, b1, b2] = [
      await client(portA, "a1"),
      await client(portA, "a2"),
      await client(portB, "b1"),
      await client(portB, "b2"),
    ];
    try {
      await waitFor(async () => (await pa.presence.count("room")) === 2);
      const n = 50;
      for (let i = 0; i < n; i++) {
        a1.ws.send(`a:${i}`);
        b1.ws.send(`b:${i}`);
      }
      // Then one message that every client gets: whatever came before it is all a client got.
      await a2.until(2 * n);
      await b2.until(2 * n);
      await a1.until(n);
      await b1.until(n);
      const all = [a1, a2, b1, b2];
      const counts = all.map((c) => c.got.length);
      sa.publish("room", "end");
      await Promise.all(all.map((c, i) => c.until(counts[i]! + 1)));
      const texts = (c: Client) => c.got.map((g) => g.data as string);
      const expected = (who: string) => Array.from({ length: n }, (_, i) => `${who}:${i}`);
      assert.deepEqual(texts(a1), [...expected("b"), "end"], "a1: b1's messages, none of its own");
      assert.deepEqual(texts(b1), [...expected("a"), "end"], "b1: a1's messages, none of its own");
      for (const c of [a2, b2]) {
        const got = texts(c);
        assert.equal(got.at(-1), "end");
        assert.deepEqual(
          got.filter((t) => t.startsWith("a:")),
          expected("a"),
        );
        assert.deepEqual(
          got.filter((t) => t.startsWith("b:")),
          expected("b"),
        );
        assert.equal(got.length, 2 * n + 1, "each once");
      }
    } finally {
      for (const c of [a1, a2, b1, b2]) c.ws.close();
      await Promise.all([sa.close({ deadline: 500 }), sb.close({ deadline: 500 })]);
    }
  });

  it("a server refuses an adapter with localEcho (its clients would get its publishes twice)", async () => {
    const echoing = createRedisPubSub({ url: redis.url, localEcho: true });
    try {
      assert.equal(echoing.localEcho, true);
      assert.throws(() => createServer({ pubsub: echoing }), /localEcho/);
    } finally {
      await echoing.close();
    }
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}
