/**
 * Page scripts see request bodies parsed: urlencoded and multipart/form-data forms
 * (text fields, files, repeated names), JSON, else the text.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { HttpError } from "@wirehouse/handshake";
import type { App } from "../src/app.ts";
import { resolveConfig } from "../src/config.ts";
import { multipartFields } from "../src/site.ts";
import { startApp } from "./helpers.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "forms-site");

/** POSTs raw bytes; resolves with status and body text. */
function post(port: number, type: string, body: Uint8Array | string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/echo.sjs",
        method: "POST",
        headers: { "content-type": type, connection: "close" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", fail);
      },
    );
    req.on("error", fail);
    req.end(body);
  });
}

const enc = new TextEncoder();

/** A multipart/form-data body from parts (headers written as given). */
function multipart(boundary: string, parts: { headers: string[]; data: Uint8Array | string }[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const p of parts) {
    out.push(enc.encode(`--${boundary}\r\n${p.headers.join("\r\n")}\r\n\r\n`));
    out.push(typeof p.data === "string" ? enc.encode(p.data) : p.data);
    out.push(enc.encode("\r\n"));
  }
  out.push(enc.encode(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

describe("page scripts get parsed request bodies", () => {
  let app: App;
  let port: number;
  before(async () => {
    ({ app, port } = await startApp(resolveConfig({ sites: { main: { root } } }, join(root, "settings.js"), root)));
  });
  after(async () => {
    await app.close();
  });

  it("multipart/form-data: text fields, repeated names, a text file, a binary file", async () => {
    const b = "----wh-boundary-7MA4YWxkTrZu0gW";
    const binary = new Uint8Array([0, 255, 0xc3, 0x28, 10, 13]);
    const body = multipart(b, [
      { headers: ['Content-Disposition: form-data; name="title"'], data: "Grüße <b>" },
      { headers: ['Content-Disposition: form-data; name="tag"'], data: "a" },
      { headers: ['Content-Disposition: form-data; name="tag"'], data: "b\r\nc" },
      {
        headers: ['Content-Disposition: form-data; name="notes"; filename="notes.txt"', "Content-Type: text/plain"],
        data: "line 1\r\nline 2 ✓",
      },
      {
        headers: [
          'Content-Disposition: form-data; name="blob"; filename="x.bin"',
          "Content-Type: application/octet-stream",
        ],
        data: binary,
      },
      { headers: ['Content-Disposition: form-data; name="bare"; filename="bare"'], data: "" },
    ]);
    const r = await post(port, `multipart/form-data; boundary="${b}"`, body);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), {
      method: "POST",
      body: {
        title: "Grüße <b>",
        tag: ["a", "b\r\nc"],
        notes: {
          filename: "notes.txt",
          type: "text/plain",
          size: enc.encode("line 1\r\nline 2 ✓").byteLength,
          text: "line 1\r\nline 2 ✓",
        },
        blob: {
          filename: "x.bin",
          type: "application/octet-stream",
          size: 6,
          base64: Buffer.from(binary).toString("base64"),
        },
        bare: { filename: "bare", type: "application/octet-stream", size: 0, text: "" },
      },
    });
  });

  it("a malformed or boundary-less multipart body answers 400", async () => {
    const cut = multipart("xyz", [{ headers: ['Content-Disposition: form-data; name="a"'], data: "1" }]).subarray(
      0,
      40,
    );
    const r1 = await post(port, "multipart/form-data; boundary=xyz", cut);
    assert.equal(r1.status, 400);
    assert.match(r1.body, /multipart body ended early/);
    const r2 = await post(port, "multipart/form-data", "--x\r\n\r\n");
    assert.equal(r2.status, 400);
    assert.match(r2.body, /boundary/);
  });

  it("urlencoded forms, JSON and plain text as before", async () => {
    assert.deepEqual(
      JSON.parse((await post(port, "application/x-www-form-urlencoded", "a=1&b=%C3%A9&a=2")).body).body,
      {
        a: ["1", "2"],
        b: "é",
      },
    );
    assert.deepEqual(JSON.parse((await post(port, "application/json", '{"x":[1,true]}')).body).body, { x: [1, true] });
    assert.equal(JSON.parse((await post(port, "text/plain", "just text")).body).body, "just text");
    assert.equal((await post(port, "application/json", "{nope")).status, 400);
  });

  it("multipartFields: the part limit is enforced (413)", () => {
    const parts = Array.from({ length: 1001 }, (_, i) => ({
      headers: [`Content-Disposition: form-data; name="f${i}"`],
      data: "v",
    }));
    const r = multipartFields("multipart/form-data; boundary=q", multipart("q", parts), 1 << 20);
    assert.ok(r instanceof HttpError, "expected an HttpError");
    assert.equal(r.status, 413);
  });
});
