import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ACCEPTED,
  type AcceptHook,
  type AcceptRequest,
  accept,
  parseCookies,
  reject,
  runAcceptHook,
} from "../src/index.ts";

const request: AcceptRequest = {
  method: "GET",
  path: "/chat/lobby",
  query: "token=t",
  host: "example.com",
  headers: { get: (name) => (name.toLowerCase() === "origin" ? "https://example.com" : null) },
  cookies: { session: "s1" },
  remoteAddress: "127.0.0.1",
  origin: "https://example.com",
  params: { room: "lobby" },
};

describe("accept hooks", () => {
  it("accepts synchronously when there is no hook", () => {
    assert.equal(runAcceptHook(undefined, request), ACCEPTED);
  });

  it("passes the request and returns a synchronous answer synchronously", () => {
    const hook: AcceptHook<{ user: string }> = (req) =>
      req.cookies.session === "s1" && req.origin === "https://example.com"
        ? accept({ headers: [["set-cookie", "seen=1"]], protocol: "chat", data: { user: req.params.room! } })
        : reject(403);
    const got = runAcceptHook(hook, request);
    assert.ok(!(got instanceof Promise));
    assert.deepEqual(got, {
      accept: true,
      headers: [["set-cookie", "seen=1"]],
      protocol: "chat",
      data: { user: "lobby" },
    });
    const denied = runAcceptHook(hook, { ...request, origin: "https://evil.test" });
    assert.deepEqual(denied, { accept: false, status: 403 });
  });

  it("awaits async hooks", async () => {
    const hook: AcceptHook = async (req) =>
      req.query === "token=t" ? accept() : reject(401, { headers: [["www-authenticate", "Bearer"]], body: "no" });
    const got = runAcceptHook(hook, request);
    assert.ok(got instanceof Promise);
    assert.deepEqual(await got, { accept: true });
    assert.deepEqual(await runAcceptHook(hook, { ...request, query: "" }), {
      accept: false,
      status: 401,
      headers: [["www-authenticate", "Bearer"]],
      body: "no",
    });
  });

  it("turns throwing, rejecting and malformed hooks into a 500 reject", async () => {
    const throwing: AcceptHook = () => {
      throw new Error("boom");
    };
    const rejecting: AcceptHook = async () => {
      throw new Error("boom");
    };
    const cases = [
      runAcceptHook(throwing, request),
      await runAcceptHook(rejecting, request),
      runAcceptHook((() => undefined) as unknown as AcceptHook, request),
      runAcceptHook((() => true) as unknown as AcceptHook, request),
      runAcceptHook((() => ({ accept: false, status: 200 })) as unknown as AcceptHook, request),
      runAcceptHook((() => ({ accept: "yes" })) as unknown as AcceptHook, request),
    ];
    for (const c of cases) {
      assert.ok(!(c instanceof Promise));
      assert.equal(c.accept, false);
      if (!c.accept) assert.equal(c.status, 500);
    }
  });
});

describe("parseCookies", () => {
  it("parses pairs, first wins, quotes and escapes", () => {
    const c = parseCookies('a=1; b="two"; a=3; c=x%20y; d=%zz; bad; =e; __proto__=p');
    assert.deepEqual(Object.keys(c), ["a", "b", "c", "d", "__proto__"]);
    assert.deepEqual(
      [c.a, c.b, c.c, c.d, Object.getOwnPropertyDescriptor(c, "__proto__")?.value],
      ["1", "two", "x y", "%zz", "p"],
    );
    assert.equal(Object.getPrototypeOf(c), null);
    assert.deepEqual({ ...parseCookies(null) }, {});
  });
});
