/**
 * `--workers N`: N processes sharing the port through @wirehouse/transport's
 * workers() (Node's cluster). Returns undefined when this process should
 * serve itself (a worker, or a runtime without process workers).
 */
import type { App } from "./app.ts";
import type { ServeArgs } from "./cli.ts";
import type { ResolvedConfig } from "./config.ts";

export async function runWorkers(
  _config: ResolvedConfig,
  _args: ServeArgs,
  io: { out: (s: string) => void; err: (s: string) => void },
): Promise<App | undefined> {
  io.err("wirehouse: --workers is not supported yet; serving with one process");
  return undefined;
}
