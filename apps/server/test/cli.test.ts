import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { App } from "../src/app.ts";
import { HELP, main, parseServeArgs, VERSION } from "../src/cli.ts";
import { loadSettings } from "../src/settings.ts";
import { get } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "bin", "wirehouse.mjs");

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

/** Runs the bin on the current runtime (node, deno or bun). */
function runBin(args: string[], cwd = here) {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  const argv = g.Deno ? ["run", "-A", bin, ...args] : [bin, ...args];
  return spawn(process.execPath, argv, {
    cwd,
    env: { ...process.env, WIREHOUSE_FROM_SOURCE: "1", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

const tmp = mkdtempSync(join(tmpdir(), "wirehouse-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("wirehouse CLI", () => {
  it("--help and --version", async () => {
    const c = capture();
    assert.equal(await main(["--help"], c.io), 0);
    assert.equal(c.out[0], HELP);
    assert.match(
      HELP,
      /wirehouse serve \[--config settings\.js\] \[--host H\] \[--port N\] \[--workers N\] \[--redis URL\] \[--status PATH\] \[--dev\]/,
    );
    assert.match(HELP, /wirehouse init <dir>/);
    const v = capture();
    assert.equal(await main(["--version"], v.io), 0);
    assert.deepEqual(v.out, [`wirehouse ${VERSION}`]);
  });

  it("refuses unknown commands and options with exit code 2", async () => {
    const c = capture();
    assert.equal(await main(["frobnicate"], c.io), 2);
    assert.match(c.err[0] ?? "", /unknown command "frobnicate"/);
    assert.equal(await main(["serve", "--port", "99999"], c.io), 2);
    assert.match(c.err[1] ?? "", /--port: expected an integer from 0 to 65535/);
    assert.equal(await main(["serve", "--bogus"], c.io), 2);
    assert.match(c.err[2] ?? "", /unknown option "--bogus"/);
    // The node:http + ws engine is gone, and its option with it.
    assert.equal(await main(["serve", "--engine", "node"], c.io), 2);
    assert.match(c.err[3] ?? "", /unknown option "--engine"/);
    assert.doesNotMatch(HELP, /--engine/);
    assert.throws(() => parseServeArgs(["--config"]), /--config needs a value/);
    assert.deepEqual(parseServeArgs(["--port=0", "--host", "::1", "--dev", "--workers", "2", "-c", "s.js"]), {
      port: 0,
      host: "::1",
      dev: true,
      workers: 2,
      config: "s.js",
    });
  });

  it("init scaffolds a site whose settings load and serve", async () => {
    const dir = join(tmp, "site");
    const c = capture();
    assert.equal(await main(["init", dir], c.io), 0);
    for (const f of ["settings.js", "web/index.sjs", "web/chat.html", "web/404.html", "scripts/chat.js"])
      assert.ok(existsSync(join(dir, f)), f);
    assert.equal(await main(["init", dir], c.io), 2, "refuses a non-empty directory");
    const config = await loadSettings(join(dir, "settings.js"));
    assert.equal(config.sites[0]?.websockets["/chat"], "chat.js");
    const app = new App(
      { ...config, listeners: [{ port: 0, host: "127.0.0.1" }] },
      { log: () => {}, persistStorage: false },
    );
    const [bound] = await app.start();
    try {
      const r = await get(bound?.port as number, "/");
      assert.equal(r.status, 200);
      assert.match(r.body, /rendered 1 time\./);
      const missing = await get(bound?.port as number, "/nope");
      assert.equal(missing.status, 404);
      assert.match(missing.body, /Not found/);
    } finally {
      await app.close();
    }
  });

  it("a bad settings file stops serve with the file and key path, exit code 2", async () => {
    const file = join(tmp, "bad.settings.js");
    writeFileSync(file, "export default { sites: { main: { root: '.', headers: { 'X-A': 5 } } } };\n");
    const c = capture();
    assert.equal(await main(["serve", "--config", file], c.io), 2);
    assert.equal(
      c.err[0],
      `wirehouse: ${file}: sites.main.headers["X-A"]: expected a header value (string without CR/LF/NUL) or null`,
    );
  });

  it("the bin starts, prints the banner with the URL, serves, and stops on SIGTERM", async () => {
    const child = runBin(["serve", "--port", "0", "--host", "127.0.0.1"]);
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    try {
      const port = await new Promise<number>((done, fail) => {
        const t = setTimeout(() => fail(new Error(`no banner within 20 s: ${out} ${err}`)), 20_000);
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
          if (m) {
            clearTimeout(t);
            done(Number(m[1]));
          }
        });
        child.on("exit", () => fail(new Error(`exited early: ${out} ${err}`)));
      });
      assert.match(out, /^wirehouse 0\.1\.0 on (Node|Deno|Bun) /);
      assert.match(out, /@wirehouse\/server/);
      assert.match(out, /config: \(embedded default site\)/);
      const r = await get(port, "/demo.sjs");
      assert.equal(r.status, 200);
      assert.match(r.body, /Hello, visitor!/);
    } finally {
      child.kill("SIGTERM");
    }
    await exited;
    assert.match(out, /GET localhost \/demo\.sjs 200 \d+ [\d.]+ms/);
  });

  it("the bin prints its version", async () => {
    const child = runBin(["--version"]);
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((done) => child.on("exit", (c) => done(c)));
    assert.equal(code, 0);
    assert.equal(out.trim(), `wirehouse ${VERSION}`);
  });

  it("settings.js in the working directory is used without --config", async () => {
    const dir = join(tmp, "cwd");
    const c = capture();
    assert.equal(await main(["init", dir], c.io), 0);
    const { configFor } = await import("../src/cli.ts");
    const config = await configFor({ dev: false, port: 0 }, dir);
    assert.equal(config.file, join(dir, "settings.js"));
    assert.equal(config.listeners[0]?.port, 0);
    assert.ok(readFileSync(join(dir, "settings.js"), "utf8").includes("websockets"));
  });
});
