/** Tiny flag parser shared by the examples: --port N --host H (defaults 127.0.0.1:8080), --cert F --key F for TLS. */
import { readFileSync } from "node:fs";
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
  const v = stringFlag(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`bad --${name} ${v}`);
  return n;
}

/** A string flag `--name V` or `--name=V`, or undefined. */
function stringFlag(name: string): string | undefined {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === `--${name}`) return argv[i + 1];
    if (a?.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

/**
 * `--cert FILE --key FILE` (PEM): the TLS options for `listen` (https:// and wss://), or undefined
 * when neither is given. One without the other is an error.
 */
export function tlsFlags(): { cert: string; key: string } | undefined {
  const cert = stringFlag("cert");
  const key = stringFlag("key");
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new Error("--cert and --key go together");
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
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
