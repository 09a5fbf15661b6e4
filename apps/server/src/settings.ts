/**
 * Loading settings.js (or .ts / .mjs): trusted code run by the host. The
 * default export is a {@link Config} object or a function of a
 * {@link ConfigBuilder} (which may be async and may also return a Config).
 */
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import process from "node:process";
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

/**
 * Imports `path` and validates it. Reloads import a fresh copy (a hidden
 * sibling file, removed afterwards): loaders such as tsx cache a module by
 * path whatever its query string, and the copy keeps relative imports working.
 */
export async function loadSettings(path: string): Promise<ResolvedConfig> {
  const file = resolve(path);
  if (!existsSync(file)) throw new ConfigError(file, "", "file not found");
  const first = !loaded.has(file);
  // The copy's extension says "ES module" (.mjs / .mts), whatever package.json says.
  const ext = extname(file);
  const copyExt = ext === ".ts" || ext === ".mts" ? ".mts" : ext === ".cjs" ? ".cjs" : ".mjs";
  const target = first
    ? file
    : join(dirname(file), `.${basename(file, ext)}.reload-${process.pid}-${generation}${copyExt}`);
  let mod: { default?: unknown };
  try {
    if (!first) copyFileSync(file, target);
    mod = await import(`${pathToFileURL(target).href}?v=${generation++}`);
  } catch (e) {
    throw new ConfigError(file, "", `could not load: ${(e as Error)?.message ?? e}`);
  } finally {
    if (!first) rmSync(target, { force: true });
  }
  loaded.add(file);
  return configFromExport(mod.default, file, dirname(file));
}

const loaded = new Set<string>();
