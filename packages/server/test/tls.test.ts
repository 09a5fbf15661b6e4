import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { connect, createServer } from "../src/index.ts";

// The transport package's TEST-ONLY certificates (localhost and 127.0.0.1, signed by a test CA).
const fixtures = new URL("../../transport/test/fixtures/", import.meta.url);
const read = (name: string) => readFileSync(new URL(name, fixtures), "utf8");
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

describe("TLS", () => {
  it("serves HTTPS requests and wss:// WebSockets to our client", async () => {
    const server = createServer();
    server.http("/", (req) => `secure=${req.https}`);
    server.websocket("/echo", {
      message(ws, data) {
        ws.send(data);
      },
    });
    const { port } = await server.listen({
      port: 0,
      tls: { cert: read("test-only-localhost.crt"), key: read("test-only-localhost.key") },
    });
    try {
      let got: (v: string) => void = () => {};
      const message = new Promise<string>((r) => (got = r));
      const ws = await connect(`wss://127.0.0.1:${port}/echo`, {
        tls: { ca: read("test-only-ca.crt"), servername: isDeno ? undefined : "localhost" },
        handler: { message: (_ws, d) => got(String(d)) },
      });
      ws.send("over tls");
      assert.equal(await message, "over tls");
      ws.close();
    } finally {
      await server.close({ deadline: 500 });
    }
  });
});
