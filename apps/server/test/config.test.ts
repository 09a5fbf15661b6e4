import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, resolveConfig } from "../src/config.ts";
import { configFromExport, loadSettings } from "../src/settings.ts";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

function errorOf(config: unknown): ConfigError {
  try {
    resolveConfig(config, "settings.js", fixtures);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e;
  }
  assert.fail("expected the config to be refused");
}

describe("settings.js", () => {
  it("object and imperative styles produce the same validated config", async () => {
    const a = await loadSettings(join(fixtures, "object.settings.js"));
    const b = await loadSettings(join(fixtures, "imperative.settings.js"));
    const strip = (c: typeof a) => ({ ...c, file: "" });
    assert.deepEqual(strip(a), strip(b));
    assert.equal(a.defaultSite, "main");
    assert.equal(a.workers, 2);
    assert.deepEqual(a.listeners, [{ port: 9090, host: "127.0.0.1" }]);
    const main = a.sites.find((s) => s.name === "main");
    assert.equal(main?.root, join(fixtures, "site-a"));
    assert.deepEqual(main?.redirects["/docs/*"], { to: "/manual/", status: 301 });
    assert.deepEqual(main?.redirects["/old"], { to: "/new", status: 302 });
  });

  it("loads a TypeScript settings file", async () => {
    const c = await loadSettings(join(fixtures, "settings.ts"));
    assert.equal(c.sites[0]?.name, "ts");
    assert.equal(c.listeners[0]?.port, 9091);
  });

  it("safe default headers, overridable and removable", async () => {
    const c = resolveConfig(
      { sites: { s: { root: ".", headers: { "X-Frame-Options": "DENY", "Referrer-Policy": null, "X-Extra": "1" } } } },
      "f",
      fixtures,
    );
    assert.deepEqual(c.sites[0]?.headers, [
      ["X-Content-Type-Options", "nosniff"],
      ["X-Frame-Options", "DENY"],
      ["X-Extra", "1"],
    ]);
    const d = resolveConfig({ sites: { s: { root: "." } } }, "f", fixtures);
    assert.deepEqual(d.sites[0]?.headers, [
      ["X-Content-Type-Options", "nosniff"],
      ["X-Frame-Options", "SAMEORIGIN"],
      ["Referrer-Policy", "strict-origin-when-cross-origin"],
    ]);
    assert.deepEqual(d.listeners, [{ port: 8080, host: "0.0.0.0" }]);
  });

  it("a misspelt key names the file, the key path and the likely key", async () => {
    await assert.rejects(loadSettings(join(fixtures, "typo.settings.js")), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.file, join(fixtures, "typo.settings.js"));
      assert.equal(e.keyPath, "sites.main.hots");
      assert.match(e.message, /typo\.settings\.js: sites\.main\.hots: unknown key \(did you mean "hosts"\?\)/);
      return true;
    });
  });

  it("bad values name their key path", () => {
    assert.equal(errorOf({ listeners: [{ port: 70000 }], sites: { s: { root: "." } } }).keyPath, "listeners[0].port");
    assert.equal(errorOf({ sites: { s: { root: 5 } } }).keyPath, "sites.s.root");
    assert.equal(
      errorOf({ sites: { s: { root: ".", websockets: { chat: "chat.js" } } } }).keyPath,
      "sites.s.websockets.chat",
    );
    assert.equal(
      errorOf({ sites: { s: { root: ".", headers: { "X-A": "a\r\nb" } } } }).keyPath,
      'sites.s.headers["X-A"]',
    );
    assert.equal(
      errorOf({ sites: { s: { root: ".", redirects: { "/a": { to: "/b", status: 200 } } } } }).keyPath,
      'sites.s.redirects["/a"].status',
    );
    assert.equal(
      errorOf({ sites: { s: { root: ".", statusPages: { 999: "/x.html" } } } }).keyPath,
      'sites.s.statusPages["999"]',
    );
    assert.equal(errorOf({ sites: { s: { root: ".", cgi: { root: "." } } } }).keyPath, "sites.s.cgi.match");
    assert.equal(errorOf({ sites: { s: { root: "." } }, defaultSite: "t" }).keyPath, "defaultSite");
    assert.equal(errorOf({ sites: {} }).keyPath, "sites");
    assert.equal(errorOf({ workers: 0, sites: { s: { root: "." } } }).keyPath, "workers");
    assert.equal(
      errorOf({ sites: { a: { root: ".", hosts: ["x.test"] }, b: { root: ".", hosts: ["X.test"] } } }).keyPath,
      "sites.b.hosts[0]",
    );
    assert.match(
      errorOf({ sites: { s: { root: "." } }, listners: [] }).message,
      /^settings\.js: listners: unknown key \(did you mean "listeners"\?\)/,
    );
  });

  it("the imperative function may fail, and its error names the file", async () => {
    await assert.rejects(
      configFromExport(
        () => {
          throw new Error("boom");
        },
        "s.js",
        fixtures,
      ),
      /s\.js: the settings function threw: boom/,
    );
    await assert.rejects(configFromExport(undefined, "s.js", fixtures), /s\.js: has no default export/);
  });

  it("a missing settings file is a ConfigError", async () => {
    await assert.rejects(loadSettings(join(fixtures, "nope.js")), (e: Error) => e instanceof ConfigError);
  });
});
