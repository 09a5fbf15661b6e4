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
import type { AppStatus } from "../src/status.ts";
import { addressAllowed } from "../src/status.ts";
import { Client, get, startApp } from "./helpers.ts";
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

type Instance = { app: App; port: number; lines: string[] };

/**
 * Two App instances on one throw-away redis-server, both serving the pubsub fixture site, started
 * before the suite's tests and stopped after them (with every client the tests opened).
 */
function twoInstancesOnRedis(extra: { status?: string } = {}) {
  const t = {
    redis: undefined as unknown as RedisProcess,
    a: undefined as unknown as Instance,
    b: undefined as unknown as Instance,
    clients: [] as Client[],
    async open(port: number, path: string): Promise<Client> {
      const c = new Client(`ws://127.0.0.1:${port}${path}`);
      t.clients.push(c);
      await c.opened;
      return c;
    },
  };
  before(async () => {
    t.redis = await startRedis();
    const config = resolveConfig(
      {
        sites: { main: { root: siteRoot, websockets: { "/chat": "chat.js", "/others": "others.js" } } },
        pubsub: { redis: t.redis.url },
        ...extra,
      },
      join(siteRoot, "settings.js"),
      siteRoot,
    );
    t.a = await startApp(config);
    t.b = await startApp(config);
    for (const x of [t.a, t.b]) {
      assert.equal(x.app.pubsub?.kind, "redis");
      await x.app.pubsub?.redis?.ready();
    }
  });
  after(async () => {
    for (const c of t.clients) c.ws.terminate();
    await Promise.all([t.a?.app.close(), t.b?.app.close()]);
    await t.redis?.stop();
  });
  return t;
}

describe("websocket-script broadcast across two instances through Redis", () => {
  const t = twoInstancesOnRedis();
  const open = t.open;

  it("a chat message sent on A reaches a client on B exactly once (and back)", async () => {
    const { a, b, redis } = t;
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
    const { a, b, redis } = t;
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

/** GET the status endpoint as JSON. */
async function status(port: number, path = "/_status"): Promise<AppStatus> {
  const r = await get(port, path);
  assert.equal(r.status, 200, r.body);
  assert.match(String(r.headers["content-type"]), /^application\/json/);
  return JSON.parse(r.body) as AppStatus;
}

/** Polls the status until `ok` holds (bounded). */
async function statusUntil(port: number, ok: (s: AppStatus) => boolean, what: string): Promise<AppStatus> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await status(port);
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`status: ${what} not reached in 10 s: ${JSON.stringify(s)}`);
    await new Promise((d) => setTimeout(d, 20));
  }
}

describe("status endpoint: presence across instances and the Redis drop counter", () => {
  const t = twoInstancesOnRedis({ status: "/_status" });
  const open = t.open;

  it("shows each script's clients here and across instances, then Redis lost and back with the dropped count", async () => {
    const { a, b, redis } = t;
    const ann = await open(a.port, "/chat?name=ann");
    await open(b.port, "/chat?name=bob");
    await open(b.port, "/chat?name=cat");
    const chat = (s: AppStatus) => s.topics.find((t) => t.path === "/chat");
    const s1 = await statusUntil(a.port, (s) => chat(s)?.total === 3, "3 chat clients across instances");
    assert.equal(s1.pubsub.kind, "redis");
    assert.equal(s1.pubsub.connected, true);
    assert.equal(s1.pubsub.url, redis.url);
    assert.deepEqual(chat(s1), {
      topic: scriptTopic("main", "/chat"),
      site: "main",
      path: "/chat",
      clients: 1,
      total: 3,
      instances: 2,
    });
    assert.deepEqual(
      s1.topics.find((t) => t.path === "/others"),
      { topic: scriptTopic("main", "/others"), site: "main", path: "/others", clients: 0, total: 0, instances: 0 },
    );
    assert.equal(s1.websockets, 1);
    assert.equal(s1.worker, null);
    assert.equal(s1.pubsub.stats?.droppedWhileDisconnected, 0);
    assert.equal(chat(await status(b.port))?.clients, 2);

    await redis.kill();
    await statusUntil(a.port, (s) => !s.pubsub.connected, "disconnected");
    // Local delivery goes on; the relay of these broadcasts is dropped and counted.
    ann.ws.send("while Redis is down");
    assert.equal(await ann.nextMatching(/^ann: /), "ann: while Redis is down");
    const down = await statusUntil(
      a.port,
      (s) => (s.pubsub.stats?.droppedWhileDisconnected ?? 0) >= 1,
      "a dropped publish",
    );
    assert.equal(chat(down)?.total, null);
    assert.match(down.pubsub.error ?? "", /./);
    assert.equal(chat(down)?.clients, 1);

    await redis.restart();
    const back = await statusUntil(
      a.port,
      (s) => s.pubsub.connected && chat(s)?.total === 3,
      "reconnected with presence rewritten",
    );
    assert.equal(back.pubsub.stats?.reconnects, 1);
    assert.equal(back.pubsub.stats?.droppedWhileDisconnected, 1);
    assert.ok(
      a.lines.some((l) => /^warn: pubsub: lost the (publish|subscribe) connection to Redis/.test(l)),
      a.lines.join("\n"),
    );
    assert.ok(
      a.lines.some((l) => /pubsub: reconnected to Redis; 1 publishes were dropped while disconnected/.test(l)),
      a.lines.join("\n"),
    );
  });
});

describe("status endpoint, one process", () => {
  it("answers loopback clients with JSON (in-process pub/sub); others get 404; off by default", async () => {
    const sites = { main: { root: siteRoot, websockets: { "/chat": "chat.js" } } };
    const on = await startApp(resolveConfig({ sites, status: "/_status" }, join(siteRoot, "settings.js"), siteRoot));
    const denied = await startApp(
      resolveConfig({ sites, status: { path: "/_status", allow: ["10.9.9.9"] } }, join(siteRoot, "s.js"), siteRoot),
    );
    const off = await startApp(resolveConfig({ sites }, join(siteRoot, "settings.js"), siteRoot));
    const c = new Client(`ws://127.0.0.1:${on.port}/chat?name=x`);
    try {
      await c.opened;
      const s = await statusUntil(on.port, (x) => x.topics[0]?.clients === 1, "one client");
      assert.equal(s.pubsub.kind, "in-process");
      assert.equal(s.topics[0]?.total, null);
      assert.match(s.runtime, /^(Node|Deno|Bun) /);
      assert.equal(s.wirehouse, "0.1.0");
      assert.equal((await get(denied.port, "/_status")).status, 404);
      assert.equal((await get(off.port, "/_status")).status, 404);
    } finally {
      c.ws.terminate();
      await Promise.all([on.app.close(), denied.app.close(), off.app.close()]);
    }
  });

  it("addressAllowed compares IPv4-mapped IPv6 as IPv4", () => {
    assert.equal(addressAllowed("::ffff:127.0.0.1", ["127.0.0.1", "::1"]), true);
    assert.equal(addressAllowed("::1", ["127.0.0.1", "::1"]), true);
    assert.equal(addressAllowed("10.0.0.1", ["127.0.0.1", "::1"]), false);
  });

  it("settings status: a path or { path, allow }; --status sets it", () => {
    const r = (status: unknown) =>
      resolveConfig({ sites: { main: { root: "." } }, status }, "/srv/settings.js", "/srv");
    assert.equal(r(undefined).status, null);
    assert.deepEqual(r("/_s").status, { path: "/_s", allow: ["127.0.0.1", "::1"] });
    assert.deepEqual(r({ path: "/_s", allow: ["10.0.0.1"] }).status, { path: "/_s", allow: ["10.0.0.1"] });
    assert.throws(
      () => r("nope"),
      (e: unknown) => e instanceof ConfigError && e.keyPath === "status",
    );
    assert.throws(
      () => r({ path: "/x", allwo: [] }),
      (e: unknown) => e instanceof ConfigError && e.keyPath === "status.allwo",
    );
    assert.deepEqual(applyFlags(r(undefined), parseServeArgs(["--status", "/st"])).status, {
      path: "/st",
      allow: ["127.0.0.1", "::1"],
    });
    assert.throws(() => parseServeArgs(["--status", "st"]), UsageError);
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
