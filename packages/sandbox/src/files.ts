/**
 * The host's view of a site's files. Scripts never touch the file system:
 * the page engine reads templates, includes and `readFile` through this.
 * @module
 */
import { readFileSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";

/** Site files by site-relative path ("/dir/page.sjs"). Both methods are synchronous (includes run mid-script). */
export interface SiteFiles {
  /** A tag that changes when the file changes (mtime + size, a hash…), or undefined if there is no such file. */
  version(path: string): string | number | undefined;
  /** The file's content, or undefined if there is no such file. */
  read(path: string): string | Uint8Array | undefined;
}

/** Files held in memory: for tests, embedded sites and benchmarks. */
export class MemoryFiles implements SiteFiles {
  private readonly files = new Map<string, { text: string; version: number }>();
  private counter = 0;
  constructor(files: Record<string, string> = {}) {
    for (const [p, t] of Object.entries(files)) this.set(p, t);
  }
  set(path: string, text: string): void {
    this.files.set(path.startsWith("/") ? path : `/${path}`, { text, version: ++this.counter });
  }
  delete(path: string): void {
    this.files.delete(path);
  }
  version(path: string): number | undefined {
    return this.files.get(path)?.version;
  }
  read(path: string): string | undefined {
    return this.files.get(path)?.text;
  }
}

/**
 * Files of a directory on disk. The version is mtime + size; files whose real
 * path (after symlinks) is outside the root, and dotfiles, do not exist.
 *
 * `version()` runs on every page request, so the real path of a file is
 * remembered for {@link LOCATE_TTL_MS} and only `stat` runs per call (the
 * real-path walk is an lstat per path segment) while the file there is the
 * same (inode) and unchanged; anything else (an edit, a deletion, a directory
 * swapped for a symlink) resolves the path again at once, and `read()` always
 * resolves afresh. A symlink re-pointed to another file inside the root shows
 * within that time.
 */
export class DirectoryFiles implements SiteFiles {
  readonly root: string;
  private readonly located = new Map<string, { real: string; at: number; version: string; ino: number; dev: number }>();
  constructor(root: string) {
    this.root = realpathSync(root);
  }
  private locate(path: string): string | undefined {
    if (path.split("/").some((s) => s.startsWith("."))) return undefined;
    const full = join(this.root, path);
    try {
      const real = realpathSync(full);
      if (real !== this.root && !real.startsWith(this.root + sep)) return undefined;
      return real;
    } catch {
      return undefined;
    }
  }
  version(path: string): string | undefined {
    const now = performance.now();
    const hit = this.located.get(path);
    if (hit && now - hit.at < LOCATE_TTL_MS) {
      try {
        // The same file (inode) with the same version as when its path was resolved: nothing to check again.
        const st = statSync(hit.real);
        if (st.isFile() && st.ino === hit.ino && st.dev === hit.dev && `${st.mtimeMs}:${st.size}` === hit.version)
          return hit.version;
      } catch {
        // gone or replaced: resolved again below
      }
    }
    const real = this.locate(path);
    if (!real) {
      this.located.delete(path);
      return undefined;
    }
    try {
      const st = statSync(real);
      if (!st.isFile()) {
        this.located.delete(path);
        return undefined;
      }
      const version = `${st.mtimeMs}:${st.size}`;
      if (this.located.size >= LOCATED_MAX) this.located.clear();
      this.located.set(path, { real, at: now, version, ino: st.ino, dev: st.dev });
      return version;
    } catch {
      return undefined;
    }
  }
  read(path: string): Uint8Array | undefined {
    const real = this.locate(path);
    if (!real) return undefined;
    try {
      return readFileSync(real);
    } catch {
      return undefined;
    }
  }
}

/** How long {@link DirectoryFiles} trusts a file's resolved real path (ms). */
export const LOCATE_TTL_MS = 1000;
const LOCATED_MAX = 10_000;
