import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CgiAbortedError, type CgiResult, OutputChannel, readResponse } from "../src/index.ts";

const enc = new TextEncoder();

/** Feeds `parts` to a channel, then ends (or fails) it, and parses the response. */
async function parse(parts: string[], end: "end" | "fail" = "end") {
  let cancelled = 0;
  const out = new OutputChannel(
    () => {},
    () => {},
  );
  for (const p of parts) out.push(enc.encode(p));
  if (end === "end") out.end();
  else out.fail("crash", "died");
  const result = await readResponse(out, { maxHeaderBytes: 1024, cancel: () => cancelled++ });
  return { result, cancelled: () => cancelled };
}

async function body(r: CgiResult): Promise<{ text: string; error: CgiAbortedError | null }> {
  if (r.type !== "response") throw new Error(`expected a response, got ${JSON.stringify(r)}`);
  let text = "";
  try {
    for await (const c of r.body) text += new TextDecoder().decode(c);
  } catch (e) {
    if (e instanceof CgiAbortedError) return { text, error: e };
    throw e;
  }
  return { text, error: null };
}

describe("CGI response parsing", () => {
  it("reads a head split anywhere, then the body", async () => {
    const { result } = await parse(["Content-Ty", "pe: text/plain\r", "\nStatus: 404 Not Here\r\n", "\r", "\nhello"]);
    assert.equal(result.type, "response");
    if (result.type !== "response") return;
    assert.equal(result.status, 404);
    assert.equal(result.statusText, "Not Here");
    assert.deepEqual(result.headers, [["Content-Type", "text/plain"]]);
    assert.equal((await body(result)).text, "hello");
  });

  it("Content-Length: cuts extra bytes, and a short body is an abort", async () => {
    const long = await parse(["Content-Type: a/b\nContent-Length: 3\n\nabcdef"]);
    assert.deepEqual(await body(long.result), { text: "abc", error: null });
    const short = await parse(["Content-Type: a/b\nContent-Length: 10\n\nabc"]);
    const b = await body(short.result);
    assert.equal(b.text, "abc");
    assert.equal(b.error?.reason, "crash");
  });

  it("a failure after the head aborts the body after the bytes already received", async () => {
    const { result } = await parse(["Content-Type: a/b\n\npartial"], "fail");
    const b = await body(result);
    assert.equal(b.text, "partial");
    assert.ok(b.error instanceof CgiAbortedError);
  });

  it("malformed heads are 502 and stop the program", async () => {
    for (const head of [
      "no colon here\n\n",
      "Status: abc\n\n",
      "Status: 99 Low\n\n",
      "Content-Length: -1\nContent-Type: a/b\n\n",
      "Content-Length: 1\nContent-Length: 2\nContent-Type: a/b\n\n",
      "X-Only: 1\n\n",
      "Bad Name: 1\n\n",
    ]) {
      const { result, cancelled } = await parse([head]);
      assert.equal(result.type, "error", head);
      if (result.type === "error") assert.equal(result.status, 502, head);
      assert.equal(cancelled(), 1, head);
    }
  });

  it("an oversized head is 502; no output, or no end of head, is 502; a failure before the head keeps its kind", async () => {
    const big = await parse([`X-A: ${"a".repeat(2000)}`]);
    assert.equal(big.result.type === "error" && big.result.status, 502);
    assert.equal((await parse([])).result.type === "error", true);
    assert.match(JSON.stringify((await parse(["Content-Type: a/b\n"])).result), /before the end of its header/);
    const out = new OutputChannel(
      () => {},
      () => {},
    );
    out.fail("timeout", "slow");
    assert.deepEqual(await readResponse(out, { maxHeaderBytes: 10, cancel: () => {} }), {
      type: "error",
      status: 504,
      message: "slow",
    });
  });

  it("Location: local path without Status is a local redirect; absolute URI is 302; with Status it is kept", async () => {
    assert.deepEqual((await parse(["Location: /next?a=1\n\n"])).result, {
      type: "local-redirect",
      location: "/next?a=1",
    });
    const abs = (await parse(["Location: https://e.example/\n\n"])).result;
    assert.equal(abs.type === "response" && abs.status, 302);
    const kept = (await parse(["Status: 301 Moved\nLocation: /x\n\n"])).result;
    assert.equal(kept.type === "response" && kept.status, 301);
    // "//host" is a network-path reference, not a local path.
    const net = (await parse(["Location: //evil.example/\n\n"])).result;
    assert.equal(net.type === "response" && net.status, 302);
  });

  it("drops hop-by-hop headers and keeps repeated Set-Cookie", async () => {
    const { result } = await parse([
      "Content-Type: a/b\nConnection: close\nTransfer-Encoding: chunked\nSet-Cookie: a=1\nSet-Cookie: b=2\n\n",
    ]);
    assert.equal(result.type, "response");
    if (result.type === "response") {
      assert.deepEqual(result.headers, [
        ["Content-Type", "a/b"],
        ["Set-Cookie", "a=1"],
        ["Set-Cookie", "b=2"],
      ]);
    }
  });

  it("body.complete: the whole body when the output ended before the head was parsed, else null", async () => {
    // Ended, in several chunks: joined; iterating yields the same bytes.
    const a = await parse(["Content-Type: text/plain\r\n\r\nhel", "lo ", "world"]);
    assert.equal(a.result.type, "response");
    if (a.result.type !== "response") return;
    assert.equal(new TextDecoder().decode(a.result.body.complete!), "hello world");
    assert.deepEqual(await body(a.result), { text: "hello world", error: null });
    // Cut at Content-Length; a short body is not complete, and iterating reports it.
    const cut = await parse(["Content-Type: a/b\r\nContent-Length: 3\r\n\r\nabcdef"]);
    assert.equal(cut.result.type === "response" && new TextDecoder().decode(cut.result.body.complete!), "abc");
    const short = await parse(["Content-Type: a/b\r\nContent-Length: 9\r\n\r\nabc", "def"]);
    assert.equal(short.result.type === "response" && short.result.body.complete, null);
    assert.equal((await body(short.result)).error?.reason, "crash");
    assert.equal((await body(short.result).catch(() => null)) === null, true);
    // A failed output is never complete.
    const failed = await parse(["Content-Type: text/plain\r\n\r\nhalf"], "fail");
    assert.equal(failed.result.type === "response" && failed.result.body.complete, null);
    // Still running when the head was parsed: null, and the body streams as it comes.
    const out = new OutputChannel(
      () => {},
      () => {},
    );
    out.push(enc.encode("Content-Type: text/plain\r\n\r\nfirst "));
    const r = await readResponse(out, { maxHeaderBytes: 1024, cancel: () => {} });
    assert.equal(r.type === "response" && r.body.complete, null);
    out.push(enc.encode("second"));
    out.end();
    assert.deepEqual(await body(r), { text: "first second", error: null });
  });

  it("pauses the source above the high-water mark and resumes as the reader drains", async () => {
    const events: string[] = [];
    const out = new OutputChannel(
      () => events.push("pause"),
      () => events.push("resume"),
    );
    out.push(enc.encode("Content-Type: a/b\n\n"));
    for (let i = 0; i < 10; i++) out.push(new Uint8Array(64 * 1024));
    assert.deepEqual(events, ["pause"]);
    out.end();
    const r = await readResponse(out, { maxHeaderBytes: 100, cancel: () => {} });
    let n = 0;
    if (r.type === "response") for await (const c of r.body) n += c.length;
    assert.equal(n, 10 * 64 * 1024);
    assert.deepEqual(events, ["pause", "resume"]);
  });
});
