// Peer server: node:http answering from bodies cached in memory (Buffers built once at start).
//   node servers/node-http.mjs --port 8080
// GET /4k -> 4,096 bytes, GET /256k -> 262,144 bytes (application/octet-stream); anything else 404.
// Prints `ready port=<port> pid=<pid>` once listening.
import { createServer } from "node:http";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const body = (size) => Buffer.alloc(size, "wirehouse benchmark body\n");
const files = { "/4k": body(4096), "/256k": body(262144) };

const server = createServer((req, res) => {
  const data = files[req.url];
  if (!data) {
    res.writeHead(404, { "content-type": "text/plain", "content-length": "10" });
    res.end("not found\n");
    return;
  }
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(data.length) });
  res.end(data);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(arg("port", "8080")), arg("host", "127.0.0.1"), () => {
  console.log(`ready port=${server.address().port} pid=${process.pid}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
