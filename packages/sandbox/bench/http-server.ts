/**
 * One side of the HTTP page benchmark (bench/http.ts starts it pinned to a core):
 *   http-server.ts sandbox   node:http answering every request with PageEngine.render (fresh QuickJS context each)
 *   http-server.ts ejs       node:http answering with the same page rendered by EJS 3 (compiled once)
 *   http-server.ts static    node:http answering with the page rendered once (the HTTP part alone)
 * Prints the port on stdout once listening; answers each "cpu" line on stdin
 * with the process's CPU time in µs (user + system); exits when stdin closes.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import ejs from "ejs";
import { MemoryFiles, PageEngine } from "../src/index.ts";
import { EJS, SJS } from "./page.ts";

const mode = process.argv[2];
let handler: (req: IncomingMessage, res: ServerResponse) => void;

if (mode === "sandbox") {
  const engine = await PageEngine.create({ files: new MemoryFiles({ "/shop.sjs": SJS }), revalidateMs: 1000 });
  handler = (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    engine
      .render(path, {
        method: req.method ?? "GET",
        url: req.url ?? "/",
        headers: req.headers as Record<string, string>,
        remoteAddress: req.socket.remoteAddress,
      })
      .then(
        (r) => {
          const headers: Record<string, string> = { "content-length": String(r.body.byteLength) };
          for (const [k, v] of r.headers) headers[k] = v;
          res.writeHead(r.status, headers);
          res.end(r.body);
        },
        (e: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(String(e));
        },
      );
  };
} else if (mode === "ejs") {
  const template = ejs.compile(EJS);
  handler = (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const body = Buffer.from(template({ request: { path } }));
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": String(body.byteLength) });
    res.end(body);
  };
} else if (mode === "static") {
  // The HTTP part alone: the same page, rendered once.
  const body = Buffer.from(ejs.compile(EJS)({ request: { path: "/shop.sjs" } }));
  handler = (_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": String(body.byteLength) });
    res.end(body);
  };
} else {
  throw new Error("usage: http-server.ts sandbox|ejs|static");
}

const server = createServer(handler);
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  console.log(typeof address === "object" && address ? address.port : 0);
});
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  for (const line of chunk.split("\n")) {
    if (line.trim() !== "cpu") continue;
    const u = process.cpuUsage();
    console.log(u.user + u.system);
  }
});
process.stdin.on("close", () => server.close(() => process.exit(0)));
