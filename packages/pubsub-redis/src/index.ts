/**
 * @module @wirehouse/pubsub-redis
 *
 * Relays @wirehouse/server topic publishes between processes and machines through
 * Redis pub/sub, with presence counts per topic across instances.
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
export type {
  LogLevel,
  Presence,
  PubSubAdapter,
  RedisPubSub,
  RedisPubSubOptions,
  RedisPubSubStats,
} from "./types.ts";
