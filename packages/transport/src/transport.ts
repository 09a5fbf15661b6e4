/**
 * `listen()` and `connect()`: pick the adapter (the runtime's own unless
 * `options.adapter` says otherwise) and delegate.
 */
import { bunAdapter } from "./adapters/bun.ts";
import { denoAdapter } from "./adapters/deno.ts";
import { nodeAdapter } from "./adapters/node.ts";
import { reserveDescriptors } from "./descriptor-table.ts";
import { TransportError } from "./errors.ts";
import { runtime } from "./runtime.ts";
import type { Adapter, AdapterName, Connection, ConnectOptions, Handlers, Listener, ListenOptions } from "./types.ts";

const adapters: Record<AdapterName, Adapter> = { node: nodeAdapter, bun: bunAdapter, deno: denoAdapter };

/** The adapter for a name (default: the current runtime's). */
export function getAdapter(name: AdapterName = runtime): Adapter {
  const a = adapters[name];
  if (a === undefined) throw new TransportError("ERR_INVALID_OPTION", `unknown adapter "${name}"`);
  if (name !== "node" && name !== runtime) {
    throw new TransportError(
      "ERR_ADAPTER_UNAVAILABLE",
      `the ${name} adapter needs the ${name} runtime (this is ${runtime})`,
    );
  }
  return a;
}

/** Starts listening; resolves once bound (read `listener.port`). */
export function listen<S = unknown>(options: ListenOptions, handlers: Handlers<S>): Promise<Listener> {
  const adapter = getAdapter(options.adapter);
  if (options.reserveDescriptors) reserveDescriptors(options.reserveDescriptors);
  return adapter.listen(options, handlers);
}

/** Opens an outbound connection; resolves once it is open (after the TLS handshake for TLS). */
export function connect<S = unknown>(options: ConnectOptions, handlers: Handlers<S>): Promise<Connection<S>> {
  return getAdapter(options.adapter).connect(options, handlers);
}
