/**
 * The file-system interface the static cache reads through, so tests and
 * embedders can substitute their own (an embedded site, an archive).
 *
 * @module
 */

/** What the cache needs to know about a path (symlinks followed). */
export interface FileStat {
  readonly kind: "file" | "directory" | "other";
  readonly size: number;
  readonly mtimeMs: number;
  /** Inode number, or 0 where the platform has none; a change means a different file. */
  readonly ino: number;
}

/** A directory entry, for preloading. */
export interface DirEntry {
  readonly name: string;
  readonly kind: "file" | "directory" | "other";
}

/** A running watcher. */
export interface Watcher {
  close(): void;
}

/**
 * The operations the cache uses. Paths are absolute, with `/` separators
 * below the root the site was given.
 */
export interface FileSystem {
  /** Follows symlinks; null when nothing is there (ENOENT, ENOTDIR, ELOOP, EACCES). */
  stat(path: string): Promise<FileStat | null>;
  /** The canonical path with every symlink resolved; null when nothing is there. */
  realpath(path: string): Promise<string | null>;
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Bytes `[start, end)` of a file, read one chunk per `next()` so a consumer
   * that stops pulling stops the reads (backpressure). The file is opened on
   * the first `next()` and closed when the iteration ends or is abandoned
   * through `return()`.
   */
  readStream(path: string, start: number, end: number): AsyncIterable<Uint8Array>;
  /** The entries of a directory (symlinks followed for `kind`). */
  readdir(path: string): Promise<DirEntry[]>;
  /**
   * Watches a directory tree; `onChange` gets the changed path relative to
   * `root` with `/` separators, or null when the platform cannot say which.
   * Returns null where watching is not available; stat revalidation covers it.
   */
  watch?(root: string, onChange: (relative: string | null) => void): Watcher | null;
}
