/**
 * @module @wirehouse/transport
 *
 * Sockets, TLS, timers and backpressure on Node, Deno and Bun behind one
 * interface: `listen(options, handlers)` and `connect(options, handlers)`.
 * Each runtime uses its own fastest primitive (node:net / Bun.listen /
 * Deno.listen); the runtime is detected once at start-up.
 */
export { DEFAULT_HIGH_WATER_MARK, DEFAULT_MAX_BUFFERED } from "./connection-base.ts";
export { reserveDescriptors } from "./descriptor-table.ts";
export { TransportError, type TransportErrorCode } from "./errors.ts";
export { availableAdapters, runtime } from "./runtime.ts";
export { type Clock, Timer, type TimerDriver, TimerWheel, type TimerWheelOptions } from "./timer-wheel.ts";
export { connect, getAdapter, listen } from "./transport.ts";
export type {
  Adapter,
  AdapterName,
  CertificateKey,
  ClientTlsOptions,
  CloseOptions,
  CommonOptions,
  Connection,
  ConnectOptions,
  Handlers,
  Listener,
  ListenOptions,
  ServerTlsOptions,
} from "./types.ts";
export { type WorkersOptions, workers } from "./workers.ts";
