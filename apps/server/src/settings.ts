/**
 * Loading settings.js (or .ts / .mjs): trusted code run by the host. The
 * default export is a {@link Config} object or a function of a
 * {@link ConfigBuilder} (which may be async and may also return a Config).
 */
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigBuilder } from "./builder.ts";
import { ConfigError, type ResolvedConfig, resolveConfig } from "./config.ts";

/** Turns a default export (object or function) into a validated config. */
export async function configFromExport(exported: unknown, file: string, baseDir: string): Promise<ResolvedConfig> {
  let config: unknown = exported;
  if (typeof exported === "function") {
    const builder = new ConfigBuilder();
    let returned: unknown;
    try {
      returned = await (exported as (b: ConfigBuilder) => unknown)(builder);
    } catch (e) {
      throw new ConfigError(file, "", `the settings function threw: ${(e as Error)?.message ?? e}`);
    }
    config =
      returned !== undefined &&
      returned !== null &&
      typeof returned === "object" &&
      !(returned instanceof ConfigBuilder)
        ? returned
        : builder.toConfig();
  }
  if (config === undefined)
    throw new ConfigError(
      file,
      "",
      "has no default export (export default defineConfig({...}) or export default function (server) {...})",
    );
  return resolveConfig(config, file, baseDir);
}

let generation = 0;

/** Imports `path` afresh (a new query string each time, so a reload sees edits) and validates it. */
export async function loadSettings(path: string): Promise<ResolvedConfig> {
  const file = resolve(path);
  let mod: { default?: unknown };
  try {
    mod = await import(`${pathToFileURL(file).href}?v=${Date.now()}-${generation++}`);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes(file))
      throw new ConfigError(file, "", "file not found");
    throw new ConfigError(file, "", `could not load: ${err?.message ?? err}`);
  }
  return configFromExport(mod.default, file, dirname(file));
}
