// Peer server: the `ws` library on node:http (runs on Node, and on Deno and Bun through their Node compatibility).
//   node servers/ws.mjs --port 9001
// On Bun, `import "ws"` gives Bun's own built-in implementation of the ws API; `--npm-ws` loads the npm
// package's code from node_modules by path instead (the same code Node and Deno run).
// Any path echoes every message as received (text stays text); /broadcast sends every message from any
// client to all clients connected on /broadcast, sender included (the load generator's broadcast contract).
// Prints `ready port=<port> pid=<pid>` once listening.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const { WebSocketServer } = process.argv.includes("--npm-ws")
  ? createRequire(import.meta.url)(fileURLToPath(new URL("../../node_modules/ws/index.js", import.meta.url)))
  : await import("ws");

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg("port", "9001"));
const host = arg("host", "127.0.0.1");

const server = createServer((_req, res) => {
  res.writeHead(426, { "content-type": "text/plain" });
  res.end("WebSocket only\n");
});
const echo = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const broadcast = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: true });

echo.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
broadcast.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => {
    for (const client of broadcast.clients) client.send(data, { binary: isBinary });
  });
});

server.on("upgrade", (req, socket, head) => {
  socket.on("error", () => {});
  const target = req.url === "/broadcast" ? broadcast : echo;
  target.handleUpgrade(req, socket, head, (ws) => target.emit("connection", ws, req));
});
server.listen(port, host, () => {
  console.log(`ready port=${server.address().port} pid=${process.pid}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
