/**
 * @module @wirehouse/app
 *
 * The wirehouse reference server: `defineConfig` for settings.js, the config
 * validator, the imperative builder, and the App that serves sites.
 */
export { App, type AppOptions, type BoundListener } from "./app.ts";
export { ConfigBuilder, SiteBuilder } from "./builder.ts";
export { defaultConfig, main, VERSION } from "./cli.ts";
export {
  type CgiMapping,
  type Config,
  ConfigError,
  defineConfig,
  type ListenerConfig,
  type PubSubConfig,
  type ResolvedConfig,
  type ResolvedSite,
  resolveConfig,
  SAFE_HEADERS,
  type SiteConfig,
  type StatusConfig,
} from "./config.ts";
export { createPubSub, RelayedPubSub } from "./pubsub.ts";
export { configFromExport, loadSettings } from "./settings.ts";
export type { AppStatus, TopicStatus } from "./status.ts";
