import { loadQuickJS } from "./src/quickjs.ts";
import { ScriptEngine } from "./src/ws-engine.ts";

const mod = await loadQuickJS();
let n = 0;
const e = new ScriptEngine(
  mod,
  "/e.js",
  { cpuMs: 1000 },
  [],
  () => {
    n++;
  },
  () => {},
);
console.log(e.load("function onMessage(c, d) { c.send(d) }"));
const conn: any[] = [];
for (let i = 1; i <= 100; i++) conn.push(["c", i, "{}"]);
e.dispatch(conn);
for (const size of [1, 100]) {
  const batch: any[] = [];
  for (let i = 1; i <= size; i++) batch.push(["m", i, "x".repeat(32)]);
  let best = 1e9;
  for (let k = 0; k < 10; k++) {
    const t = performance.now();
    for (let j = 0; j < 2000 / size; j++) e.dispatch(batch);
    best = Math.min(best, ((performance.now() - t) / 2000) * 1000);
  }
  console.log("batch", size, best.toFixed(1), "us/event");
}
