/**
 * @module @wirehouse/sandbox
 *
 * Isolated site scripts in QuickJS (WebAssembly): page scripts rendered in a
 * fresh context per request, websocket scripts each in their own context on
 * their own worker thread, with `storage`, `events` and an allow-listed
 * `fetch`. The host never sees QuickJS: it calls {@link PageEngine} and
 * {@link WebsocketScriptHost} and gets bytes, typed errors and callbacks.
 */
export {
  BudgetExceededError,
  OutOfMemoryError,
  SandboxError,
  ScriptError,
  statusForError,
} from "./errors.ts";
export { EventHub, type EventListener } from "./events.ts";
export type { FetchPolicy } from "./fetch.ts";
export { DirectoryFiles, MemoryFiles, type SiteFiles } from "./files.ts";
export {
  type LogEntry,
  PageEngine,
  type PageEngineOptions,
  PageNotFoundError,
  type PageRequest,
  type PageResult,
} from "./page.ts";
export { PageThread, type PageThreadOptions, type SharedStore } from "./page-thread.ts";
export { normalizeSitePath, PathError, resolveSitePath } from "./paths.ts";
export { DEFAULT_LIMITS, type Limits, PAGE_INTRINSICS, SCRIPT_INTRINSICS } from "./quickjs.ts";
export {
  type KeyValueStore,
  MemoryStorage,
  SiteStorage,
  type SiteStorageOptions,
  type StorageListener,
} from "./storage.ts";
export { type CompiledTemplate, compileTemplate } from "./template.ts";
export {
  CLOSE_SCRIPT_FAULT,
  CLOSE_SERVICE_RESTART,
  type ClientInfo,
  type ScriptRequestResult,
  WebsocketScriptHost,
  type WebsocketScriptHostOptions,
} from "./ws-host.ts";
