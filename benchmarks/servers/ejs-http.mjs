// Peer server: the benchmark page (../sites/ejs/shop.ejs, the same page as ../sites/scripted/web/shop.sjs)
// rendered by EJS 3 per request in a plain node:http server (template compiled once at start).
//   node servers/ejs-http.mjs --port 8080
// GET /shop.sjs -> the page (text/html); anything else 404. Prints `ready port=<port> pid=<pid>` once listening.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import ejs from "ejs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const template = ejs.compile(readFileSync(new URL("../sites/ejs/shop.ejs", import.meta.url), "utf8"));

const server = createServer((req, res) => {
  const path = (req.url ?? "/").split("?", 1)[0];
  if (path !== "/shop.sjs") {
    res.writeHead(404, { "content-type": "text/plain", "content-length": "10" });
    res.end("not found\n");
    return;
  }
  const body = Buffer.from(template({ request: { path } }));
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": String(body.length) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(arg("port", "8080")), arg("host", "127.0.0.1"), () => {
  console.log(`ready port=${server.address().port} pid=${process.pid}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
