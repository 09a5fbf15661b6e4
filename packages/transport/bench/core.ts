/**
 * The transport's own per-message JavaScript cost, without sockets: a data
 * chunk goes through `received` → handler → `write` → flush into a stub
 * "system write", as in the echo. Compared with the server CPU time per
 * message in bench/echo.ts (µs, mostly system calls), it shows what the
 * layer itself adds. Runs on any runtime: `node --import tsx bench/core.ts`,
 * `npx bun bench/core.ts`, `npx deno run -A bench/core.ts`.
 */
import { BaseConnection, settingsFrom } from "../src/connection-base.ts";
import { runtime } from "../src/runtime.ts";

let sink = 0;
class StubConnection extends BaseConnection<unknown> {
  runtimeBuffered(): number {
    return 0;
  }
  flush(): void {
    const data = this.takeQueue();
    if (data !== null) sink += data.byteLength; // the "system write"
  }
  abort(): void {}
  pause(): void {}
  resume(): void {}
}

const conn = new StubConnection(
  settingsFrom(
    {},
    {
      data(c, bytes) {
        if (!c.write(bytes)) c.pause();
      },
    },
    null,
    null,
  ),
);
conn.opened();

for (const size of [32, 16384]) {
  const chunk = new Uint8Array(size);
  const direct = (b: Uint8Array) => {
    sink += b.byteLength;
  };
  const n = 2_000_000;
  let best = Number.POSITIVE_INFINITY;
  let bestDirect = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    let t = performance.now();
    for (let i = 0; i < n; i++) conn.received(chunk);
    best = Math.min(best, ((performance.now() - t) * 1e6) / n);
    t = performance.now();
    for (let i = 0; i < n; i++) direct(chunk);
    bestDirect = Math.min(bestDirect, ((performance.now() - t) * 1e6) / n);
  }
  console.log(
    `${runtime}: ${size} B chunk through received → handler → write → flush: ${best.toFixed(0)} ns/message (a bare call: ${bestDirect.toFixed(0)} ns)`,
  );
}
if (sink < 0) console.log(sink);
