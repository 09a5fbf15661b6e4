import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createRedisPubSub, type RedisPubSubOptions } from "../src/index.ts";
import { freePort, type RedisProcess, startRedis } from "./redis-server.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

interface Got {
  topic: string;
  text: string;
  bytes: Uint8Array;
  binary: boolean;
  compress: boolean;
}

/** An adapter whose received messages are recorded; `until(n)` resolves when n have arrived. */
function node(url: string, extra: Partial<RedisPubSubOptions> = {}) {
  const logs: string[] = [];
  const adapter = createRedisPubSub({
    url,
    log: (level, message) => logs.push(`${level}: ${message}`),
    reconnectMaxMs: 200,
    ...extra,
  });
  const got: Got[] = [];
  let want = Number.POSITIVE_INFINITY;
  let wake: (() => void) | null = null;
  adapter.onMessage((topic, data, binary, compress) => {
    got.push({ topic, text: decoder.decode(data), bytes: data, binary, compress });
    if (got.length >= want && wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  const until = (n: number, ms = 15_000): Promise<void> =>
    new Promise((resolve, reject) => {
      if (got.length >= n) return resolve();
      want = n;
      const timer = setTimeout(
        () => reject(new Error(`${adapter.instanceId}: ${got.length} of ${n} messages after ${ms} ms`)),
        ms,
      );
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  return { adapter, got, logs, until };
}

/** Messages carry "publisher:index"; checks none lost, none duplicated, per-publisher order kept. */
function checkStream(got: Got[], expected: Map<string, number>): void {
  const seen = new Map<string, number>();
  for (const g of got) {
    const [who, idx] = g.text.split(":");
    const i = Number(idx);
    const last = seen.get(who!) ?? -1;
    assert.equal(i, last + 1, `from ${who}: got ${i} after ${last}`);
    seen.set(who!, i);
  }
  for (const [who, n] of expected) assert.equal((seen.get(who) ?? -1) + 1, n, `messages from ${who}`);
  assert.equal(seen.size, expected.size, `publishers seen: ${[...seen.keys()]}`);
}

describe("createRedisPubSub", () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  it("two instances: text and binary cross over, own publishes are not echoed back", async () => {
    const a = node(redis.url);
    const b = node(redis.url);
    try {
      await Promise.all([a.adapter.ready(), b.adapter.ready()]);
      a.adapter.subscribe("chat");
      b.adapter.subscribe("chat");
      await Promise.all([a.adapter.ready(), b.adapter.ready()]);
      await waitSubscribed(redis.url, "wirehouse:chat", 2);
      const bin = new Uint8Array([0, 255, 1, 128, 0xc3, 0x28]); // not valid UTF-8: must stay bytes
      a.adapter.publish("chat", "héllo ✓", false);
      a.adapter.publish("chat", bin, true);
      a.adapter.publish("chat", encoder.encode("as bytes, text frame"), false);
      a.adapter.publish("chat", "to compress", false, true); // the publisher's compress flag crosses too
      await b.until(4);
      assert.deepEqual(
        b.got.map((g) => [g.topic, g.binary, g.compress]),
        [
          ["chat", false, false],
          ["chat", true, false],
          ["chat", false, false],
          ["chat", false, true],
        ],
      );
      assert.equal(b.got[0]!.text, "héllo ✓");
      assert.deepEqual(b.got[1]!.bytes, bin);
      assert.equal(b.got[2]!.text, "as bytes, text frame");
      // Causality marker: B answers after seeing A's messages; when A gets the answer,
      // its own messages (published earlier on the same channel) would have arrived first.
      b.adapter.publish("chat", "marker", false);
      await a.until(1);
      assert.deepEqual(
        a.got.map((g) => g.text),
        ["marker"],
      );
      assert.equal(a.adapter.stats.received, 1);
      assert.equal(b.adapter.stats.received, 4);
      await a.adapter.flushed();
      assert.equal(a.adapter.stats.published, 4);
    } finally {
      await Promise.all([a.adapter.close(), b.adapter.close()]);
    }
  });

  it("three instances, 10,000 messages: none lost or duplicated, per-publisher order kept", async () => {
    const nodes = [
      node(redis.url, { instanceId: "n0" }),
      node(redis.url, { instanceId: "n1" }),
      node(redis.url, { instanceId: "n2" }),
    ];
    try {
      // Subscribers on each instance: reference counts 3, 1 and 2.
      nodes[0]!.adapter.subscribe("load");
      nodes[0]!.adapter.subscribe("load");
      nodes[0]!.adapter.subscribe("load");
      nodes[1]!.adapter.subscribe("load");
      nodes[2]!.adapter.subscribe("load");
      nodes[2]!.adapter.subscribe("load");
      await Promise.all(nodes.map((n) => n.adapter.ready()));
      await waitSubscribed(redis.url, "wirehouse:load", 3);
      const counts = [3334, 3333, 3333]; // 10,000 in all
      const total = counts[0]! + counts[1]! + counts[2]!;
      assert.equal(total, 10_000);
      // Interleaved publishing from all three, in bursts across ticks.
      const next = [0, 0, 0];
      while (next.some((v, k) => v < counts[k]!)) {
        for (let k = 0; k < 3; k++)
          for (let j = 0; j < 50 && next[k]! < counts[k]!; j++)
            nodes[k]!.adapter.publish("load", `n${k}:${next[k]!++}`, k === 1);
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(nodes.map((n, k) => n.until(total - counts[k]!)));
      await Promise.all(nodes.map((n) => n.adapter.flushed()));
      for (let k = 0; k < 3; k++) {
        const expected = new Map<string, number>();
        for (let o = 0; o < 3; o++) if (o !== k) expected.set(`n${o}`, counts[o]!);
        checkStream(nodes[k]!.got, expected);
        assert.equal(nodes[k]!.got.length, total - counts[k]!);
        for (const g of nodes[k]!.got) assert.equal(g.binary, g.text.startsWith("n1:"));
        const s = nodes[k]!.adapter.stats;
        assert.equal(s.published, counts[k]);
        assert.equal(s.droppedWhileDisconnected + s.droppedOverflow + s.failed + s.discarded, 0);
      }
    } finally {
      await Promise.all(nodes.map((n) => n.adapter.close()));
    }
  });

  it("reference-counted subscribe: delivery stops only after the last unsubscribe", async () => {
    const a = node(redis.url);
    const b = node(redis.url);
    try {
      b.adapter.subscribe("room");
      b.adapter.subscribe("room");
      b.adapter.subscribe("other");
      await Promise.all([a.adapter.ready(), b.adapter.ready()]);
      await waitSubscribed(redis.url, "wirehouse:room", 1);
      b.adapter.unsubscribe("room");
      a.adapter.publish("room", "still here", false);
      await b.until(1);
      b.adapter.unsubscribe("room");
      await waitSubscribed(redis.url, "wirehouse:room", 0);
      a.adapter.publish("room", "nobody", false);
      a.adapter.publish("other", "after", false);
      await b.until(2);
      assert.deepEqual(
        b.got.map((g) => `${g.topic}=${g.text}`),
        ["room=still here", "other=after"],
      );
    } finally {
      await Promise.all([a.adapter.close(), b.adapter.close()]);
    }
  });

  it("presence: subscribers per topic summed over live instances", async () => {
    const opts = { channelPrefix: "pres:", heartbeatMs: 1000 };
    const a = node(redis.url, { ...opts, instanceId: "a" });
    const b = node(redis.url, { ...opts, instanceId: "b" });
    const c = node(redis.url, { ...opts, instanceId: "c" });
    const probe = new Redis(redis.url);
    try {
      await Promise.all([a.adapter.ready(), b.adapter.ready(), c.adapter.ready()]);
      for (let i = 0; i < 3; i++) a.adapter.subscribe("lobby");
      b.adapter.subscribe("lobby");
      b.adapter.subscribe("lobby");
      c.adapter.subscribe("elsewhere");
      // A stale entry from an instance that died without cleaning up (no heartbeat key): not counted.
      await probe.hset("pres:presence:lobby", "ghost", 7);
      await waitFor(async () => (await c.adapter.presence.count("lobby")) === 5, "lobby count 5");
      assert.equal(await a.adapter.presence.count("lobby"), 5);
      assert.deepEqual([...(await c.adapter.presence.byInstance("lobby")).entries()].sort(), [
        ["a", 3],
        ["b", 2],
      ]);
      assert.equal(await a.adapter.presence.count("elsewhere"), 1);
      assert.equal(await a.adapter.presence.count("nothing"), 0);
      assert.equal(a.adapter.presence.local("lobby"), 3);
      // The dead instance's field was removed when read.
      assert.equal(await probe.hexists("pres:presence:lobby", "ghost"), 0);
      a.adapter.unsubscribe("lobby");
      await b.adapter.close(); // leaves presence at once
      await waitFor(async () => (await c.adapter.presence.count("lobby")) === 2, "lobby count 2");
    } finally {
      probe.disconnect();
      await Promise.all([a.adapter.close(), b.adapter.close(), c.adapter.close()]);
    }
  });

  it("Redis unreachable: publishes are dropped and counted, nothing buffered, close still resolves", async () => {
    const port = await freePort(); // nothing listens there
    const a = node(`redis://127.0.0.1:${port}`);
    a.adapter.subscribe("t");
    for (let i = 0; i < 100; i++) a.adapter.publish("t", `m${i}`, false);
    assert.equal(a.adapter.connected, false);
    assert.equal(a.adapter.stats.droppedWhileDisconnected, 100);
    assert.equal(a.adapter.stats.pending, 0);
    await a.adapter.close();
    await assert.rejects(a.adapter.ready(), /closed/);
  });
});

describe("Redis killed and restarted mid-stream", () => {
  it("the adapters reconnect, resubscribe, keep order, and count what was dropped", async () => {
    const redis = await startRedis();
    const a = node(redis.url, { instanceId: "pub", reconnectMinMs: 20, reconnectMaxMs: 100 });
    const b = node(redis.url, { instanceId: "sub", reconnectMinMs: 20, reconnectMaxMs: 100 });
    try {
      b.adapter.subscribe("stream");
      await Promise.all([a.adapter.ready(), b.adapter.ready()]);
      let i = 0;
      const dropped = new Set<number>();
      const send = () => {
        const before = a.adapter.stats.droppedWhileDisconnected;
        a.adapter.publish("stream", `pub:${i}`, false);
        if (a.adapter.stats.droppedWhileDisconnected !== before) dropped.add(i);
        i++;
      };
      const tick = () => new Promise((r) => setTimeout(r, 1));

      // Phase 1: connected.
      for (let k = 0; k < 500; k++) send();
      await b.until(500);
      const phase1End = i;

      // Phase 2: keep publishing while Redis is killed, until the adapter has noticed.
      const killing = redis.kill();
      while (a.adapter.connected || b.adapter.connected || dropped.size < 50) {
        for (let k = 0; k < 10; k++) send();
        await tick();
      }
      await killing;
      for (let k = 0; k < 100; k++) send(); // dropped at once: nothing is queued
      assert.equal(a.adapter.stats.pending, 0);
      await redis.restart();
      // Keep publishing while reconnecting, until both are back and resubscribed.
      while (!(a.adapter.connected && b.adapter.connected)) {
        for (let k = 0; k < 10; k++) send();
        await tick();
      }
      // Phase 3: connected again.
      const phase3Start = i;
      for (let k = 0; k < 500; k++) send();
      await a.adapter.flushed();
      await waitFor(async () => b.got.at(-1)?.text === `pub:${i - 1}`, "last message");

      const received = b.got.map((g) => Number(g.text.split(":")[1]));
      for (let k = 1; k < received.length; k++) assert.ok(received[k]! > received[k - 1]!, "order kept, no duplicates");
      for (const r of received) assert.ok(!dropped.has(r), `dropped message ${r} was delivered`);
      const set = new Set(received);
      for (let k = 0; k < phase1End; k++) assert.ok(set.has(k), `phase 1 message ${k} lost`);
      for (let k = phase3Start; k < i; k++) assert.ok(set.has(k), `phase 3 message ${k} lost`);

      const s = a.adapter.stats;
      assert.ok(s.droppedWhileDisconnected >= 150, `dropped ${s.droppedWhileDisconnected}`);
      assert.equal(s.droppedWhileDisconnected, dropped.size);
      // Every publish is accounted for: confirmed, dropped, or lost in flight when Redis died.
      assert.equal(s.published + s.droppedWhileDisconnected + s.droppedOverflow + s.failed, i);
      assert.ok(received.length <= s.published + s.failed);
      assert.equal(s.reconnects, 1);
      assert.equal(b.adapter.stats.reconnects, 1);
      assert.ok(
        a.logs.some((l) => l.startsWith("warn: lost the")),
        a.logs.join("\n"),
      );
      assert.ok(
        a.logs.some((l) => /reconnected to Redis; \d+ publishes were dropped/.test(l)),
        a.logs.join("\n"),
      );
      assert.ok(
        b.logs.some((l) => l.includes("resubscribed 1 topics")),
        b.logs.join("\n"),
      );
    } finally {
      await Promise.all([a.adapter.close(), b.adapter.close()]);
      await redis.stop();
    }
  });
});

/** Polls a condition (bounded): used only where the event is inside Redis, not in our code. */
async function waitFor(cond: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until Redis reports `n` subscribers on `channel` (PUBSUB NUMSUB). */
async function waitSubscribed(url: string, channel: string, n: number): Promise<void> {
  const probe = new Redis(url);
  try {
    await waitFor(async () => {
      const r = (await probe.pubsub("NUMSUB", channel)) as [string, number];
      return Number(r[1]) === n;
    }, `${n} subscribers on ${channel}`);
  } finally {
    probe.disconnect();
  }
}
