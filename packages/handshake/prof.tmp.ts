import { RequestParser } from "./src/head-parser.ts";
import { sha1 } from "./src/sha1.ts";
import { acceptWebSocket, negotiateWebSocket } from "./src/websocket-server.ts";
import { chromium, get12 } from "./test/fixtures/browsers.ts";

const b = new TextEncoder().encode(process.argv[2] === "get" ? get12 : chromium.raw);
const p = new RequestParser();
let s = 0;
const mode = process.argv[2];
const h = (p.push(new TextEncoder().encode(chromium.raw)) as any).head;
for (let k = 0; k < 3; k++) {
  const t = performance.now();
  for (let i = 0; i < 200000; i++) {
    if (mode === "accept") {
      const u = negotiateWebSocket(h) as any;
      s += acceptWebSocket(u).length;
    } else if (mode === "sha") {
      s += sha1(b.subarray(0, 60))[0];
    } else {
      const r = p.push(b);
      if (r.kind === "head") s += r.head.headers.size;
    }
  }
  console.log(mode, (((performance.now() - t) / 200000) * 1000).toFixed(2), "us/op", s);
}
