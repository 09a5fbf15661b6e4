/**
 * @module @wirehouse/pubsub-redis
 *
 * Relays @wirehouse/server topic publishes between processes and machines through
 * Redis pub/sub, with presence counts per topic across instances; and an in-host
 * relay (over a loopback socket, or a parent's IPC channel) for several processes
 * on one machine without Redis.
 */
export { decodeEnvelope, type Envelope, encodeEnvelope } from "./envelope.ts";
export {
  createIpcPubSub,
  createIpcRelay,
  type IpcChannel,
  type IpcPubSub,
  type IpcPubSubOptions,
  type IpcRelay,
} from "./ipc-relay.ts";
export { createRedisPubSub } from "./redis-pubsub.ts";
export {
  createSocketPubSub,
  createSocketRelay,
  parseRelayAddress,
  type SocketPubSub,
  type SocketPubSubOptions,
  type SocketPubSubStats,
  type SocketRelay,
  type SocketRelayOptions,
  type SocketRelayStats,
} from "./socket-relay.ts";
export type {
  LogLevel,
  Presence,
  PubSubAdapter,
  RedisPubSub,
  RedisPubSubOptions,
  RedisPubSubStats,
} from "./types.ts";
