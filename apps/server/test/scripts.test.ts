import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { resolveConfig } from "../src/config.ts";
import { Client, startApp } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "wirehouse-scripts-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("websocket scripts", () => {
  it("a changed script file is reloaded: clients closed with 1012, new clients get the new code", {
    timeout: 30_000,
  }, async () => {
    mkdirSync(join(tmp, "web"), { recursive: true });
    mkdirSync(join(tmp, "scripts"), { recursive: true });
    const script = join(tmp, "scripts", "say.js");
    writeFileSync(script, 'function onMessage(client, data) { client.send("v1:" + data); }\n');
    const config = resolveConfig({ sites: { s: { root: tmp, websockets: { "/say": "say.js" } } } }, "test", tmp);
    const { app, port } = await startApp(config);
    try {
      const a = new Client(`ws://127.0.0.1:${port}/say`);
      await a.opened;
      a.ws.send("x");
      assert.equal((await a.next()).data, "v1:x");
      writeFileSync(script, 'function onMessage(client, data) { client.send("v2:" + data); }\n');
      const closed = await a.closed;
      assert.equal(closed.code, 1012);
      const b = new Client(`ws://127.0.0.1:${port}/say`);
      await b.opened;
      b.ws.send("y");
      assert.equal((await b.next()).data, "v2:y");
      await b.close();
    } finally {
      await app.close();
    }
  });
});
