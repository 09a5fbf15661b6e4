import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { init } from "../src/cli.ts";
import { Client, get } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "bin", "wirehouse.mjs");
const tmp = mkdtempSync(join(tmpdir(), "wirehouse-reload-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const g = globalThis as { Deno?: unknown };
describe("reload", () => {
  it("settings.js change and SIGHUP reload the sites; an open websocket survives", { timeout: 60_000 }, async () => {
    const dir = join(tmp, "site");
    init(dir);
    const settings = join(dir, "settings.js");
    const argv = [bin, "serve", "--config", settings, "--port", "0", "--host", "127.0.0.1"];
    const child = spawn(process.execPath, g.Deno ? ["run", "-A", ...argv] : argv, {
      env: { ...process.env, WIREHOUSE_FROM_SOURCE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const waiters: (() => void)[] = [];
    const onData = (d: Buffer) => {
      out += d.toString();
      for (const w of waiters.splice(0)) w();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const exited = new Promise<void>((done) => child.on("exit", () => done()));
    const waitFor = async (re: RegExp, what: string): Promise<RegExpExecArray> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`no ${what} within 20 s; output:\n${out}`);
        await new Promise<void>((done) => {
          const t = setTimeout(done, 500);
          waiters.push(() => {
            clearTimeout(t);
            done();
          });
        });
      }
    };
    try {
      const port = Number((await waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\//, "banner"))[1]);
      assert.equal((await get(port, "/moved")).status, 404);
      const ws = new Client(`ws://127.0.0.1:${port}/chat`);
      await ws.opened;

      writeFileSync(
        settings,
        readFileSync(settings, "utf8").replace(
          'statusPages: { 404: "/404.html" },',
          'statusPages: { 404: "/404.html" }, redirects: { "/moved": "/" },',
        ),
      );
      await waitFor(/reloaded .*settings\.js \(file changed\)/, "reload on change");
      const r = await get(port, "/moved");
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, "/");

      out = "";
      process.kill(child.pid as number, "SIGHUP");
      await waitFor(/reloaded .*settings\.js \(SIGHUP\)/, "reload on SIGHUP");
      assert.equal((await get(port, "/moved")).status, 302);
      ws.ws.send("after two reloads");
      assert.equal(await ws.nextMatching(/after two reloads/), "after two reloads");
      await ws.close();
    } finally {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
  });
});
