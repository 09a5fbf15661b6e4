/**
 * Memory per idle connection: RSS delta / count after a GC, adapter next to
 * the plainest server of the same runtime (each in its own process; the
 * connections come from a Bun process). `node --import tsx bench/idle-memory.ts
 * [--runtimes node,bun,deno] [--connections 5000]`
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtime } from "../src/runtime.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const bin = (n: string) =>
  existsSync(join(root, "node_modules", ".bin", n)) ? join(root, "node_modules", ".bin", n) : n;
const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : def;
};
const runtimes = opt("runtimes", runtime).split(",");
const count = Number(opt("connections", "5000"));

function cmd(rt: string, kind: string): string[] {
  const f = join(here, "idle-server.ts");
  if (rt === "node") return [runtime === "node" ? process.execPath : "node", "--expose-gc", "--import", "tsx", f, kind];
  if (rt === "bun") return [bin("bun"), f, kind];
  return [bin("deno"), "run", "-A", "--v8-flags=--expose-gc", f, kind];
}
function start(c: string[]): ChildProcess {
  return spawn(c[0]!, c.slice(1), { stdio: ["pipe", "pipe", "inherit"], cwd: root });
}
function line(child: ChildProcess, re: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = "";
    const on = (d: unknown) => {
      out += String(d);
      const m = out.match(re);
      if (m) {
        child.stdout!.off("data", on);
        resolve(m);
      }
    };
    child.stdout!.on("data", on);
    child.once("exit", () => reject(new Error(`exited: ${out}`)));
  });
}
async function perConnection(rt: string, kind: string): Promise<number> {
  const server = start(cmd(rt, kind));
  try {
    const port = (await line(server, /port (\d+)/))[1]!;
    let stats = line(server, /rss (\d+) connections (\d+)/);
    server.stdin!.write("stats\n");
    const before = Number((await stats)[1]);
    const holder = start([bin("bun"), join(here, "hold.ts"), port, String(count)]);
    await line(holder, /ready/);
    let m: RegExpMatchArray;
    do {
      stats = line(server, /rss (\d+) connections (\d+)/);
      server.stdin!.write("stats\n");
      m = await stats;
    } while (Number(m[2]) < count);
    holder.stdin!.end();
    return (Number(m[1]) - before) / count;
  } finally {
    server.stdin!.end();
  }
}

const plain: Record<string, string> = { node: "node:net server", bun: "Bun.listen", deno: "Deno.listen + read loop" };
console.log(`memory per idle TCP connection, ${count} connections, RSS delta / count after GC`);
console.log("| runtime | plain | adapter |\n|---|---|---|");
for (const rt of runtimes) {
  const p = await perConnection(rt, "plain");
  const a = await perConnection(rt, "adapter");
  console.log(`| ${rt} (${plain[rt]}) | ${Math.round(p)} B | ${Math.round(a)} B |`);
}
