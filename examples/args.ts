/** Tiny flag parser shared by the examples: --port N --host H (defaults 127.0.0.1:8080). */
import process from "node:process";

export function parseFlags(defaultPort = 8080): { port: number; host: string } {
  const argv = process.argv.slice(2);
  let port = defaultPort;
  let host = "127.0.0.1";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port") port = Number(argv[++i]);
    else if (a?.startsWith("--port=")) port = Number(a.slice(7));
    else if (a === "--host") host = String(argv[++i]);
    else if (a?.startsWith("--host=")) host = a.slice(7);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${port}`);
  return { port, host };
}

/** A numeric flag `--name N` or `--name=N` (e.g. the engine's `--ping 20 --pong-timeout 10`), or `fallback`. */
export function numberFlag(name: string, fallback: number): number {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let v: string | undefined;
    if (a === `--${name}`) v = argv[i + 1];
    else if (a?.startsWith(`--${name}=`)) v = a.slice(name.length + 3);
    if (v === undefined) continue;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`bad --${name} ${v}`);
    return n;
  }
  return fallback;
}

/** Closes the server gracefully on SIGINT/SIGTERM. */
export function closeOnSignal(close: () => Promise<unknown>): void {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
