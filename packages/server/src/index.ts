/**
 * @module @wirehouse/server
 *
 * HTTP/1.1 and WebSocket endpoints with TypeScript handlers on Node, Deno and Bun.
 */
export { type ConnectOptions, connect } from "./client.ts";
export {
  JobError,
  JobPool,
  type JobPoolOptions,
  JobQueueFullError,
  type JobRunOptions,
  JobTimeoutError,
} from "./jobs.ts";
export { handleUpgrade } from "./node-upgrade.ts";
export { createServer, Server, Site } from "./server.ts";
export * from "./types.ts";
