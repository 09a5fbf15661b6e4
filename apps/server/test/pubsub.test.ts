/**
 * Two App instances in one process sharing a throw-away redis-server: websocket
 * scripts' `broadcast` reaches the clients of both, exactly once, in order, with
 * `except` honoured; and the `pubsub` settings key / `--redis` flag.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { App } from "../src/app.ts";
import { applyFlags, parseServeArgs, UsageError } from "../src/cli.ts";
import { ConfigError, resolveConfig } from "../src/config.ts";
import { scriptTopic } from "../src/site.ts";
import { Client, startApp } from "./helpers.ts";
import { type RedisProcess, startRedis } from "./redis-server.ts";

const here = dirname(fileURLToPath(import.meta.url));
const siteRoot = join(here, "fixtures", "pubsub-site");

/** `PUBSUB NUMSUB channel` over a bare RESP connection: Redis-side subscriptions of a channel. */
function numsub(port: number, channel: string): Promise<number> {
  return new Promise((done, fail) => {
    const s = connect(port, "127.0.0.1");
    const parts = ["PUBSUB", "NUMSUB", channel];
    s.write(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join("")}`);
    let got = "";
    s.on("data", (c: Buffer) => {
      got += c.toString("utf8");
      const m = /:(\d+)\r\n$/.exec(got);
      if (m) {
        s.end();
        done(Number(m[1]));
      }
    });
    s.on("error", fail);
  });
}

/** Waits (bounded) until `count` Redis connections subscribe to the topic's channel. */
async function subscribed(port: number, topic: string, count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const n = await numsub(port, `wirehouse:${topic}`);
    if (n >= count) return;
    if (Date.now() > deadline) throw new Error(`${topic}: ${n} Redis subscribers after 5 s, expected ${count}`);
    await new Promise((d) => setTimeout(d, 10));
  }
}

describe("websocket-script broadcast across two instances through Redis", () => {
  let redis: RedisProcess;
  let a: { app: App; port: number; lines: string[] };
  let b: { app: App; port: number; lines: string[] };
  const clients: Client[] = [];
  const open = async (port: number, path: string) => {
    const c = new Client(`ws://127.0.0.1:${port}${path}`);
    clients.push(c);
    await c.opened;
    return c;
  };

  before(async () => {
    redis = await startRedis();
    const config = resolveConfig(
      {
        sites: { main: { root: siteRoot, websockets: { "/chat": "chat.js", "/others": "others.js" } } },
        pubsub: { redis: redis.url },
      },
      join(siteRoot, "settings.js"),
      siteRoot,
    );
    a = await startApp(config);
    b = await startApp(config);
    for (const x of [a, b]) {
      assert.equal(x.app.pubsub?.kind, "redis");
      const inner = x.app.pubsub?.inner as unknown as { ready(): Promise<void> };
      await inner.ready();
    }
  });

  after(async () => {
    for (const c of clients) c.ws.terminate();
    await Promise.all([a?.app.close(), b?.app.close()]);
    await redis?.stop();
  });

  it("a chat message sent on A reaches a client on B exactly once (and back)", async () => {
    const topic = scriptTopic("main", "/chat");
    const bob = await open(b.port, "/chat?name=bob");
    assert.equal((await bob.next()).data, "* bob joined (1 here)");
    await subscribed(redis.port, topic, 1);
    const ann = await open(a.port, "/chat?name=ann");
    // ann's join is broadcast by A's copy of the script: local to ann, through Redis to bob.
    assert.equal((await ann.next()).data, "* ann joined (1 here)");
    assert.equal((await bob.next()).data, "* ann joined (1 here)");
    await subscribed(redis.port, topic, 2);

    ann.ws.send("hello");
    assert.equal((await ann.next()).data, "ann: hello");
    assert.equal((await bob.next()).data, "ann: hello");
    bob.ws.send("hi");
    assert.equal((await bob.next()).data, "bob: hi");
    assert.equal((await ann.next()).data, "bob: hi");
    // No duplicate of either: the next message each client gets is the next one sent.
    for (let i = 0; i < 20; i++) ann.ws.send(`m${i}`);
    for (let i = 0; i < 20; i++) {
      assert.deepEqual((await bob.next()).data, `ann: m${i}`);
      assert.deepEqual((await ann.next()).data, `ann: m${i}`);
    }
    bob.ws.send("end");
    assert.equal((await ann.next()).data, "bob: end");
    assert.equal((await bob.next()).data, "bob: end");
  });

  it("broadcast(data, except) skips the sender on every instance, text and binary", async () => {
    const topic = scriptTopic("main", "/others");
    const a1 = await open(a.port, "/others");
    const a2 = await open(a.port, "/others");
    const b1 = await open(b.port, "/others");
    await subscribed(redis.port, topic, 2);

    a1.ws.send("from a1");
    assert.equal((await a2.next()).data, "from a1");
    assert.equal((await b1.next()).data, "from a1");
    a1.ws.send(new Uint8Array([0, 255, 1]));
    for (const [name, c] of [
      ["a2", a2],
      ["b1", b1],
    ] as const) {
      const m = await c.next();
      assert.equal(m.binary, true, name);
      assert.deepEqual([...(m.data as Buffer)], [0, 255, 1], name);
    }
    b1.ws.send("from b1");
    // a1's next message is b1's: it got none of its own.
    assert.equal((await a1.next()).data, "from b1");
    assert.equal((await a2.next()).data, "from b1");
    a2.ws.send("from a2");
    assert.equal((await a1.next()).data, "from a2");
    // b1's next message is a2's: it got none of its own.
    assert.equal((await b1.next()).data, "from a2");
  });
});

describe("pubsub settings", () => {
  const base = { sites: { main: { root: "." } } };
  const resolve = (extra: object) => resolveConfig({ ...base, ...extra }, "/srv/settings.js", "/srv");

  it("accepts redis:// and rediss:// URLs; defaults to none", () => {
    assert.deepEqual(resolve({}).pubsub, {});
    assert.deepEqual(resolve({ pubsub: { redis: "redis://127.0.0.1:6379" } }).pubsub, {
      redis: "redis://127.0.0.1:6379",
    });
    assert.equal(
      resolve({ pubsub: { redis: "rediss://u:p@r.example:6380/2" } }).pubsub.redis,
      "rediss://u:p@r.example:6380/2",
    );
  });

  it("rejects bad values naming the key", () => {
    const bad = (pubsub: unknown, keyPath: string, problem: RegExp) =>
      assert.throws(
        () => resolve({ pubsub }),
        (e: unknown) => e instanceof ConfigError && e.keyPath === keyPath && problem.test(e.message),
      );
    bad({ redis: "http://127.0.0.1:6379" }, "pubsub.redis", /redis:\/\/ or rediss:\/\//);
    bad({ redis: "not a url" }, "pubsub.redis", /expected a Redis URL/);
    bad({ redis: 6379 }, "pubsub.redis", /expected a Redis URL/);
    bad({ redsi: "redis://x" }, "pubsub.redsi", /unknown key \(did you mean "redis"\?\)/);
    bad("redis://x", "pubsub", /expected an object/);
    assert.match(
      (() => {
        try {
          resolve({ pubsub: { redis: "http://x" } });
        } catch (e) {
          return (e as Error).message;
        }
        return "";
      })(),
      /^\/srv\/settings\.js: pubsub\.redis: /,
    );
  });

  it("--redis URL sets it (over settings.js); a bad one is a usage error", () => {
    const config = resolve({ pubsub: { redis: "redis://a:1" } });
    assert.equal(applyFlags(config, parseServeArgs([])).pubsub.redis, "redis://a:1");
    assert.equal(applyFlags(config, parseServeArgs(["--redis", "redis://b:2"])).pubsub.redis, "redis://b:2");
    assert.equal(applyFlags(resolve({}), parseServeArgs(["--redis=redis://c:3"])).pubsub.redis, "redis://c:3");
    assert.throws(() => parseServeArgs(["--redis", "localhost:6379"]), UsageError);
    assert.throws(() => parseServeArgs(["--redis"]), UsageError);
  });
});
