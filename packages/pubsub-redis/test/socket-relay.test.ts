import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connect } from "@wirehouse/transport";
import fc from "fast-check";
import { createSocketPubSub, createSocketRelay, parseRelayAddress, type SocketPubSub } from "../src/index.ts";
import { decodePub, encodePub, FrameReader } from "../src/socket-relay.ts";

type Got = { topic: string; data: Uint8Array; binary: boolean };

/** Polls `cond` until it holds, failing with `what` after `ms`. */
async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("in-host socket relay (no Redis, no IPC channel)", () => {
  it("frames survive any split of the stream (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            topic: fc.string({ maxLength: 20 }),
            data: fc.uint8Array({ maxLength: 300 }),
            binary: fc.boolean(),
          }),
          {
            minLength: 1,
            maxLength: 20,
          },
        ),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
        (msgs, cuts) => {
          const frames = msgs.map((m) => encodePub(m.topic, m.data, m.binary));
          const all = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
          let at = 0;
          for (const f of frames) {
            all.set(f, at);
            at += f.byteLength;
          }
          const reader = new FrameReader();
          const out: Uint8Array[] = [];
          let pos = 0;
          let k = 0;
          while (pos < all.byteLength) {
            const n = Math.min(cuts[k++ % cuts.length] as number, all.byteLength - pos);
            // A scratch copy that is overwritten after the call, like a reused read buffer.
            const chunk = all.slice(pos, pos + n);
            assert.ok(reader.push(chunk, (f) => out.push(f.slice())));
            chunk.fill(0xee);
            pos += n;
          }
          assert.deepEqual(out, frames);
        },
      ),
    );
  });

  it("rejects an oversized frame length", () => {
    const r = new FrameReader(1024);
    assert.equal(
      r.push(new Uint8Array([0, 0, 4, 1, 4]), () => {}),
      false,
    );
    assert.equal(
      new FrameReader().push(new Uint8Array([0, 0, 0, 0]), () => {}),
      false,
    );
  });

  it("parses relay addresses", () => {
    assert.deepEqual(parseRelayAddress("127.0.0.1:4000/abc_1"), { hostname: "127.0.0.1", port: 4000, token: "abc_1" });
    assert.deepEqual(parseRelayAddress("[::1]:80/t"), { hostname: "::1", port: 80, token: "t" });
    assert.throws(() => parseRelayAddress("127.0.0.1:0/t"), /not a relay address/);
    assert.throws(() => parseRelayAddress("127.0.0.1:80"), /not a relay address/);
  });

  it("three workers, 10,000 messages: each gets the others' exactly once, in per-publisher order, never its own; binary kept; presence", async () => {
    const relay = await createSocketRelay();
    const logs: string[] = [];
    const names = ["w0", "w1", "w2"];
    const subs = names.map(() =>
      createSocketPubSub({ address: relay.address, log: (l, m) => logs.push(`${l}: ${m}`) }),
    );
    const got: Got[][] = names.map(() => []);
    try {
      subs.forEach((s, i) => {
        s.onMessage((topic, data, binary) => got[i]?.push({ topic, data, binary }));
        s.subscribe("t");
        s.subscribe("t"); // reference-counted: one subscription at the relay
      });
      await Promise.all(subs.map((s) => s.ready()));
      await until(() => relay.total("t") === 6 && relay.stats.workers === 3, "three subscribed workers");
      assert.equal(relay.count("t"), 3);
      // Presence across workers, asked from one of them: 2 subscriptions on each of 3.
      assert.deepEqual(await subs[1]?.presence("t"), { total: 6, instances: 3 });
      assert.deepEqual(await subs[0]?.presence("nobody"), { total: 0, instances: 0 });
      const n = 10_000;
      const odd = new Uint8Array([0xff, 0xfe, 0x00, 0xc3]); // not UTF-8
      for (let i = 0; i < n; i++) {
        const k = i % 3;
        const s = subs[k] as SocketPubSub;
        if (i % 1000 === 7) s.publish("t", new Uint8Array([...odd, k]), true);
        else s.publish("t", `${names[k]}:${i}:é`, false);
        if (i % 500 === 0) s.publish("other", "nobody listens", false);
      }
      const perWorker = names.map(
        (_, k) => n - Array.from({ length: n }, (_, i) => i % 3).filter((x) => x === k).length,
      );
      await until(() => got.every((g, k) => g.length >= (perWorker[k] as number)), "every message");
      for (const [k, g] of got.entries()) {
        assert.equal(g.length, perWorker[k], `${names[k]} count`);
        const last = new Map<number, number>();
        for (const m of g) {
          assert.equal(m.topic, "t");
          if (m.binary) {
            assert.deepEqual([...m.data.subarray(0, 4)], [...odd]);
            const from = m.data[4] as number;
            assert.notEqual(from, k, "own binary echoed");
            continue;
          }
          const [who, i, accent] = text(m.data).split(":");
          const from = names.indexOf(who as string);
          assert.notEqual(from, k, "own message echoed");
          assert.equal(accent, "é");
          assert.ok(Number(i) > (last.get(from) ?? -1), `order from ${who}`);
          last.set(from, Number(i));
        }
      }
      assert.equal(relay.stats.relayed, 2 * n);
      assert.equal(
        subs.reduce((a, s) => a + s.stats.published, 0),
        n + 20,
      );
      assert.equal(subs[0]?.local("t"), 2);
      // Unsubscribe (twice, reference-counted) stops delivery to that worker.
      subs[2]?.unsubscribe("t");
      subs[2]?.unsubscribe("t");
      await until(() => relay.count("t") === 2, "count 2 after unsubscribe");
      assert.deepEqual(await subs[2]?.presence("t"), { total: 4, instances: 2 });
      subs[0]?.publish("t", "after", false);
      await until(() => got[1]?.length === (perWorker[1] as number) + 1, "w1 gets 'after'");
      assert.equal(got[2]?.length, perWorker[2]);
      assert.deepEqual(logs, []);
    } finally {
      await Promise.all(subs.map((s) => s.close()));
      await relay.close();
    }
  });

  it("carries the publisher's compress flag with its binary flag", async () => {
    const relay = await createSocketRelay();
    const a = createSocketPubSub({ address: relay.address });
    const b = createSocketPubSub({ address: relay.address });
    try {
      const got: [string, boolean, boolean][] = [];
      b.onMessage((_t, d, binary, compress) => got.push([text(d), binary, compress]));
      b.subscribe("t");
      await Promise.all([a.ready(), b.ready()]);
      await until(() => relay.count("t") === 1, "b subscribed");
      a.publish("t", "plain", false);
      a.publish("t", "squeeze", false, true);
      a.publish("t", new Uint8Array([1, 2]), true, true);
      await until(() => got.length === 3, "three messages");
      assert.deepEqual(got, [
        ["plain", false, false],
        ["squeeze", false, true],
        ["\u0001\u0002", true, true],
      ]);
      assert.deepEqual(decodePub(encodePub("t", new Uint8Array([9]), true, true)), {
        topic: "t",
        binary: true,
        compress: true,
        payload: new Uint8Array([9]),
      });
    } finally {
      await Promise.all([a.close(), b.close()]);
      await relay.close();
    }
  });

  it("localEcho hands own publishes to onMessage synchronously", async () => {
    const relay = await createSocketRelay();
    const s = createSocketPubSub({ address: relay.address, localEcho: true });
    try {
      const got: string[] = [];
      s.onMessage((_t, d) => got.push(text(d)));
      s.subscribe("t");
      s.publish("t", "mine", false);
      assert.deepEqual(got, ["mine"]);
    } finally {
      await s.close();
      await relay.close();
    }
  });

  it("a connection with a wrong token is closed and gets nothing", async () => {
    const relay = await createSocketRelay();
    const good = createSocketPubSub({ address: relay.address });
    let closed = false;
    let received = 0;
    const { port } = parseRelayAddress(relay.address);
    const bad = await connect(
      { port, hostname: "127.0.0.1" },
      {
        data: () => {
          received++;
        },
        close: () => {
          closed = true;
        },
      },
    );
    try {
      const hello = new Uint8Array([0, 0, 0, 6, 1, ...new TextEncoder().encode("wrong")]);
      const sub = new Uint8Array([0, 0, 0, 2, 2, 0x74]);
      bad.write([hello, sub]);
      await until(() => closed, "the relay closing the bad connection");
      assert.equal(relay.stats.rejected, 1);
      good.subscribe("t");
      await good.ready();
      await until(() => relay.count("t") === 1, "good subscribed");
      assert.equal(received, 0);
      assert.equal(relay.stats.workers, 1);
    } finally {
      bad.destroy();
      await good.close();
      await relay.close();
    }
  });

  it("relay gone and back: publishes dropped and counted, the worker reconnects and resubscribes", async () => {
    let relay = await createSocketRelay();
    const { port, token } = parseRelayAddress(relay.address);
    const logsA: string[] = [];
    const a = createSocketPubSub({
      address: relay.address,
      reconnectMinMs: 10,
      reconnectMaxMs: 50,
      log: (l, m) => logsA.push(`${l}: ${m}`),
    });
    const b = createSocketPubSub({ address: relay.address, reconnectMinMs: 10, reconnectMaxMs: 50, log: () => {} });
    const got: string[] = [];
    try {
      b.onMessage((_t, d) => got.push(text(d)));
      b.subscribe("t");
      a.subscribe("t");
      a.subscribe("u");
      a.subscribe("u");
      await Promise.all([a.ready(), b.ready()]);
      await until(() => relay.count("t") === 2, "both subscribed");
      a.publish("t", "before", false);
      await until(() => got.length === 1, "before");
      await relay.close();
      await until(() => !a.connected && !b.connected, "both notice the loss");
      for (let i = 0; i < 5; i++) a.publish("t", `lost ${i}`, false);
      assert.equal(a.stats.droppedWhileDisconnected, 5);
      relay = await createSocketRelay({ port, token });
      await assert.rejects(a.presence("t"), /not connected/);
      await until(() => a.connected && b.connected && relay.count("t") === 2, "both back and resubscribed");
      assert.deepEqual(await b.presence("t"), { total: 2, instances: 2 });
      a.publish("t", "after", false);
      await until(() => got.length === 2, "after");
      assert.deepEqual(got, ["before", "after"]);
      // The reconnect restored a's whole count for "u" in one SET frame.
      assert.equal(relay.total("u"), 2);
      assert.equal(a.stats.reconnects, 1);
      assert.ok(
        logsA.some((l) => l.startsWith("warn: lost the connection to the in-host relay")),
        logsA.join("\n"),
      );
      assert.ok(
        logsA.some((l) => /5 publishes were dropped while disconnected/.test(l)),
        logsA.join("\n"),
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
      await relay.close();
    }
  });
});
