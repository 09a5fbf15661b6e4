/**
 * Finds the script a request path names, under the site root only.
 *
 * "/app.php/extra/path" → script "/app.php", PATH_INFO "/extra/path".
 * Dot segments, dotfiles, NUL and backslashes are refused; the script's real
 * path (symlinks resolved) must lie inside the root's real path.
 *
 * @module
 */
import { constants } from "node:fs";
import { access, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { isPathError, normalizePath } from "@wirehouse/router";

export interface ScriptTarget {
  /** URL path of the script (SCRIPT_NAME), e.g. "/app.php" or "/dir/index.php". */
  scriptName: string;
  /** Absolute real path of the script (SCRIPT_FILENAME). */
  filename: string;
  /** Decoded path after the script ("" when none): PATH_INFO. */
  pathInfo: string;
  /** Real path of the site root: DOCUMENT_ROOT. */
  documentRoot: string;
}

export type ResolveOutcome =
  | { ok: true; target: ScriptTarget }
  /** 404: no such script (or a refused path); 403: a file the site may not run. */
  | { ok: false; status: 403 | 404; reason: string };

export interface ResolveRules {
  root: string;
  match: string | string[];
  index?: string[];
  /** Files must be executable (CGI without an interpreter). */
  mustBeExecutable?: boolean;
  /** Remember outcomes this long (ms) to spare stat/realpath per request (like nginx's open_file_cache). 0: off. */
  cacheMs?: number;
}

const CACHE_LIMIT = 4096;

/** Splits a decoded path into safe segments; null when the path tries to leave its place. */
export function splitSafePath(path: string): { segments: string[]; trailingSlash: boolean } | null {
  if (!path.startsWith("/") || path.includes("\0") || path.includes("\\")) return null;
  const segments: string[] = [];
  for (const s of path.split("/")) {
    if (s === "") continue;
    // Dot segments would walk out of the root; dotfiles (.env, .git, .htaccess) are never served.
    if (s.startsWith(".")) return null;
    segments.push(s);
  }
  return { segments, trailingSlash: path.endsWith("/") && segments.length > 0 };
}

/**
 * Decodes a request-target's path with the router's normaliser (the same
 * path the router matched): percent-decoded once, dot segments resolved,
 * encoded slashes and NUL refused. Null when the target is malformed (400).
 */
export function decodeTargetPath(target: string): string | null {
  const path = normalizePath(target);
  return isPathError(path) ? null : path;
}

async function kind(file: string): Promise<"file" | "dir" | null> {
  try {
    const s = await stat(file);
    return s.isFile() ? "file" : s.isDirectory() ? "dir" : null;
  } catch {
    return null;
  }
}

/** Matching rules compiled once per site. */
export class ScriptResolver {
  private readonly extensions: string[] = [];
  private readonly prefixes: string[][] = [];
  private readonly index: string[];
  private rootReal: Promise<string> | null = null;
  private readonly cache = new Map<string, { outcome: ResolveOutcome; expires: number }>();

  constructor(private readonly rules: ResolveRules) {
    for (const m of Array.isArray(rules.match) ? rules.match : [rules.match]) {
      if (m.startsWith("/")) this.prefixes.push(m.split("/").filter((s) => s !== ""));
      else this.extensions.push(m.startsWith(".") ? m : `.${m}`);
    }
    this.index = rules.index ?? (this.extensions.length > 0 ? ["index.php"] : []);
  }

  /** Cheap, synchronous: could this path be ours (before looking at the disk)? */
  mayMatch(path: string): boolean {
    for (const prefix of this.prefixes) {
      const parts = path.split("/").filter((s) => s !== "");
      if (prefix.every((p, i) => parts[i] === p)) return true;
    }
    if (this.extensions.length === 0) return false;
    if (path.endsWith("/")) return this.index.length > 0;
    return this.extensions.some((e) => path.includes(e));
  }

  private root(): Promise<string> {
    this.rootReal ??= realpath(this.rules.root);
    return this.rootReal;
  }

  async resolve(path: string): Promise<ResolveOutcome> {
    const ttl = this.rules.cacheMs ?? 0;
    if (ttl <= 0) return this.lookup(path);
    const now = Date.now();
    const hit = this.cache.get(path);
    if (hit !== undefined && hit.expires > now) return hit.outcome;
    const outcome = await this.lookup(path);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(path, { outcome, expires: now + ttl });
    return outcome;
  }

  private async lookup(path: string): Promise<ResolveOutcome> {
    const split = splitSafePath(path);
    if (split === null) return { ok: false, status: 404, reason: `refused path ${JSON.stringify(path)}` };
    const { segments, trailingSlash } = split;
    let root: string;
    try {
      root = await this.root();
    } catch {
      return { ok: false, status: 404, reason: `site root ${this.rules.root} does not exist` };
    }
    let start = 0;
    let prefixed = false;
    for (const prefix of this.prefixes) {
      if (prefix.every((p, i) => segments[i] === p)) {
        start = prefix.length;
        prefixed = true;
        break;
      }
    }
    if (!prefixed && this.extensions.length === 0) return { ok: false, status: 404, reason: "no match" };
    for (let k = start; k < segments.length; k++) {
      const seg = segments[k]!;
      if (!prefixed && !this.extensions.some((e) => seg.endsWith(e) && seg.length > e.length)) continue;
      const file = join(root, ...segments.slice(0, k + 1));
      const what = await kind(file);
      if (what === "dir") continue;
      if (what === null) return { ok: false, status: 404, reason: `no script at ${file}` };
      const rest = segments.slice(k + 1);
      const pathInfo = rest.length > 0 ? `/${rest.join("/")}${trailingSlash ? "/" : ""}` : "";
      return this.accept(root, file, `/${segments.slice(0, k + 1).join("/")}`, pathInfo);
    }
    // The whole path is a directory (or the site root): try index files.
    const dir = join(root, ...segments);
    if ((await kind(dir)) !== "dir") return { ok: false, status: 404, reason: `no script for ${path}` };
    for (const name of this.index) {
      const file = join(dir, name);
      if ((await kind(file)) === "file") {
        const base = segments.length > 0 ? `/${segments.join("/")}/` : "/";
        return this.accept(root, file, base + name, "");
      }
    }
    return { ok: false, status: 404, reason: `no index file in ${dir}` };
  }

  private async accept(root: string, file: string, scriptName: string, pathInfo: string): Promise<ResolveOutcome> {
    let real: string;
    try {
      real = await realpath(file);
    } catch {
      return { ok: false, status: 404, reason: `no script at ${file}` };
    }
    // A symlink must not lead out of the root.
    if (!real.startsWith(root.endsWith(sep) ? root : root + sep)) {
      return { ok: false, status: 403, reason: `${file} resolves outside the site root` };
    }
    if (this.rules.mustBeExecutable) {
      try {
        await access(real, constants.X_OK);
      } catch {
        return { ok: false, status: 403, reason: `${real} is not executable` };
      }
    }
    return { ok: true, target: { scriptName, filename: real, pathInfo, documentRoot: root } };
  }
}
