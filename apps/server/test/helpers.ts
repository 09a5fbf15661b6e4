import { request } from "node:http";
import WebSocket from "ws";
import { App } from "../src/app.ts";
import type { ResolvedConfig } from "../src/config.ts";

/** Starts `config` on 127.0.0.1, port 0; the log lines are collected. */
export async function startApp(config: ResolvedConfig): Promise<{ app: App; port: number; lines: string[] }> {
  const lines: string[] = [];
  const app = new App(
    { ...config, listeners: [{ port: 0, host: "127.0.0.1" }] },
    { log: (l) => lines.push(l), persistStorage: false },
  );
  const [bound] = await app.start();
  return { app, port: bound?.port as number, lines };
}

export interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET (or other method) over real loopback HTTP with an explicit Host header. */
export function get(
  port: number,
  path: string,
  host = "localhost",
  method = "GET",
  body?: string,
  type?: string,
): Promise<Got> {
  return new Promise((done, fail) => {
    const headers: Record<string, string> = { host, connection: "close" };
    if (type) headers["content-type"] = type;
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", fail);
    });
    req.on("error", fail);
    req.end(body);
  });
}

/** A websocket client that queues messages for `next()`. */
export class Client {
  readonly ws: WebSocket;
  private readonly queue: { data: string | Buffer; binary: boolean }[] = [];
  private waiter: (() => void) | undefined;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    this.ws.on("message", (data: Buffer, binary: boolean) => {
      this.queue.push({ data: binary ? data : data.toString("utf8"), binary });
      this.waiter?.();
    });
    this.opened = new Promise((done, fail) => {
      this.ws.once("open", () => done());
      this.ws.once("error", fail);
    });
    this.closed = new Promise((done) =>
      this.ws.once("close", (code: number, reason: Buffer) => done({ code, reason: reason.toString() })),
    );
  }

  async next(timeoutMs = 5000): Promise<{ data: string | Buffer; binary: boolean }> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (Date.now() > deadline) throw new Error("no message within the time limit");
      await new Promise<void>((done) => {
        const t = setTimeout(done, Math.max(0, deadline - Date.now()));
        this.waiter = () => {
          clearTimeout(t);
          done();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift() as { data: string | Buffer; binary: boolean };
  }

  /** The next text message matching `re` (others are skipped). */
  async nextMatching(re: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (typeof m.data === "string" && re.test(m.data)) return m.data;
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}
