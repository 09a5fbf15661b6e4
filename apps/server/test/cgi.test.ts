import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { resolveConfig } from "../src/config.ts";
import { get, startApp } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "wirehouse-cgi-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("cgi mapping", () => {
  it("runs a CGI program under /cgi-bin/ through @wirehouse/cgi", { timeout: 30_000 }, async () => {
    mkdirSync(join(tmp, "web", "cgi-bin"), { recursive: true });
    const program = join(tmp, "web", "cgi-bin", "hello.sh");
    writeFileSync(
      program,
      '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nhello $QUERY_STRING from $REQUEST_METHOD"\n',
    );
    chmodSync(program, 0o755);
    const config = resolveConfig({ sites: { s: { root: tmp, cgi: { match: "/cgi-bin/", cgi: {} } } } }, "test", tmp);
    const { app, port } = await startApp(config);
    try {
      const r = await get(port, "/cgi-bin/hello.sh?x=1");
      assert.equal(r.status, 200);
      assert.equal(r.body, "hello x=1 from GET");
      assert.equal(r.headers["x-content-type-options"], "nosniff");
      assert.equal((await get(port, "/cgi-bin/missing.sh")).status, 404);
    } finally {
      await app.close();
    }
  });
});
