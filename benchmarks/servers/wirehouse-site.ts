// The wirehouse app (@wirehouse/app, the `wirehouse serve` server) serving a site folder for the harness.
//   node --import tsx benchmarks/servers/wirehouse-site.ts --config benchmarks/sites/scripted/settings.js --port 9001
//   deno run -A benchmarks/servers/wirehouse-site.ts ... ; bun benchmarks/servers/wirehouse-site.ts ...
// What `wirehouse serve --config F --host 127.0.0.1 --port N` runs (same App, wirehouse engine, one
// process), except that the access log is off unless `--access-log` is given (nginx's is off too, and a
// line per request on a pipe would be measured along with the server). Prints
// `ready port=<port> pid=<pid>` once listening.
import { resolve } from "node:path";
import process from "node:process";
import { App, loadSettings } from "@wirehouse/app";

const arg = (name: string, fallback?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? String(process.argv[i + 1]) : fallback;
};
const file = arg("config");
if (!file) throw new Error("--config settings.js is required");
const loaded = await loadSettings(resolve(file));
const [first, ...rest] = loaded.listeners;
const config = {
  ...loaded,
  listeners: [{ ...first!, port: Number(arg("port", "8080")), host: arg("host", "127.0.0.1")! }, ...rest],
  workers: 1,
  ...(arg("redis") ? { pubsub: { ...loaded.pubsub, redis: arg("redis")! } } : {}),
};
const accessLog = process.argv.includes("--access-log");
const app = new App(config, {
  engine: "wirehouse",
  log: (line) => {
    // Errors and warnings always; the access log only when asked.
    if (accessLog || /^(error|warn):/.test(line)) console.log(line);
  },
});
const bound = await app.start();
console.log(`ready port=${bound[0]!.port} pid=${process.pid}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(0));
