/**
 * Bench-only HTTP front: node:http over the gateway, so the FastCGI and CGI
 * paths can be measured before the wirehouse server exists.
 *
 *   <runtime> bench/front.ts --root DIR (--fastcgi ADDRESS | --cgi BIN) [--max-connections N]
 * Prints "listening PORT" once ready.
 */
import { createServer } from "node:http";
import { createGateway } from "../src/index.ts";

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = opt("root");
if (root === undefined) throw new Error("--root is required");
const fastcgi = opt("fastcgi");
const cgi = opt("cgi");
const gateway = createGateway({ log: (level, msg) => level === "error" && console.error(msg) });
const site = gateway.site({
  root,
  match: ".php",
  ...(fastcgi
    ? {
        fastcgi: {
          address: fastcgi,
          maxConnections: Number(opt("max-connections") ?? 4),
          keepAlive: opt("keepalive") !== "0",
          pipeline: Number(opt("pipeline") ?? 1),
        },
      }
    : { cgi: { bin: cgi ?? "php-cgi" } }),
});

const server = createServer(async (req, res) => {
  const headers: Array<[string, string]> = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
  const result = await site.handle({
    method: req.method ?? "GET",
    target: req.url ?? "/",
    httpVersion: req.httpVersion,
    headers,
    remoteAddress: req.socket.remoteAddress,
    remotePort: req.socket.remotePort,
    localAddress: req.socket.localAddress,
    localPort: req.socket.localPort,
    body: hasBody ? (req as AsyncIterable<Uint8Array>) : null,
  });
  if (result.type === "error") {
    res.writeHead(result.status, { "content-type": "text/plain" }).end(`${result.message}\n`);
    return;
  }
  if (result.type === "local-redirect") {
    res.writeHead(500).end("local redirect not supported by the bench front\n");
    return;
  }
  res.writeHead(result.status, result.statusText || undefined, result.headers.flat());
  try {
    for await (const chunk of result.body) {
      if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
    }
    res.end();
  } catch {
    // Aborted mid-body: cut the connection so the client cannot take it as complete.
    res.destroy();
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const addr = server.address() as { port: number };
  console.log(`listening ${addr.port}`);
});
// A signal ends the front through process.exit, so --cpu-prof still writes its profile.
process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
