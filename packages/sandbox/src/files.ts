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
 */
export class DirectoryFiles implements SiteFiles {
  readonly root: string;
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
    const real = this.locate(path);
    if (!real) return undefined;
    try {
      const st = statSync(real);
      return st.isFile() ? `${st.mtimeMs}:${st.size}` : undefined;
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
