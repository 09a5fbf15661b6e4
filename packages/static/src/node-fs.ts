/**
 * The default `FileSystem` on `node:fs`, which Node, Deno and Bun all provide.
 *
 * @module
 */

import { watch as fsWatch } from "node:fs";
import { open, readdir, readFile, realpath, stat } from "node:fs/promises";
import type { DirEntry, FileStat, FileSystem, Watcher } from "./fs.ts";

const CHUNK = 64 * 1024;

function missing(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return (
    code === "ENOENT" ||
    code === "ENOTDIR" ||
    code === "ELOOP" ||
    code === "EACCES" ||
    code === "EPERM" ||
    code === "ENAMETOOLONG" ||
    code === "EINVAL"
  );
}

async function* readRange(path: string, start: number, end: number): AsyncGenerator<Uint8Array> {
  const handle = await open(path, "r");
  try {
    let position = start;
    while (position < end) {
      const want = Math.min(CHUNK, end - position);
      const chunk = new Uint8Array(want);
      const { bytesRead } = await handle.read(chunk, 0, want, position);
      if (bytesRead === 0) return; // the file shrank: the consumer sees fewer bytes than promised
      position += bytesRead;
      yield bytesRead === want ? chunk : chunk.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** `node:fs` as a `FileSystem`. */
export const nodeFileSystem: FileSystem = {
  async stat(path: string): Promise<FileStat | null> {
    try {
      const s = await stat(path);
      return {
        kind: s.isFile() ? "file" : s.isDirectory() ? "directory" : "other",
        size: s.size,
        mtimeMs: s.mtimeMs,
        ino: Number(s.ino ?? 0),
      };
    } catch (error) {
      if (missing(error)) return null;
      throw error;
    }
  },

  async realpath(path: string): Promise<string | null> {
    try {
      return await realpath(path);
    } catch (error) {
      if (missing(error)) return null;
      throw error;
    }
  },

  async readFile(path: string): Promise<Uint8Array> {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  },

  readStream(path: string, start: number, end: number): AsyncIterable<Uint8Array> {
    return readRange(path, start, end);
  },

  async readdir(path: string): Promise<DirEntry[]> {
    const entries = await readdir(path, { withFileTypes: true });
    const out: DirEntry[] = [];
    for (const e of entries) {
      let kind: DirEntry["kind"] = e.isFile() ? "file" : e.isDirectory() ? "directory" : "other";
      if (e.isSymbolicLink()) {
        const s = await nodeFileSystem.stat(path + "/" + e.name);
        kind = s === null ? "other" : s.kind;
      }
      out.push({ name: e.name, kind });
    }
    return out;
  },

  watch(root: string, onChange: (relative: string | null) => void): Watcher | null {
    const listener = (_event: string, filename: string | Buffer | null) => {
      onChange(filename === null ? null : String(filename).replaceAll("\\", "/"));
    };
    try {
      // persistent: false, so a forgotten watcher never keeps the process alive.
      const w = fsWatch(root, { recursive: true, persistent: false }, listener);
      w.on("error", () => {});
      return w;
    } catch {
      try {
        const w = fsWatch(root, { persistent: false }, listener);
        w.on("error", () => {});
        return w;
      } catch {
        return null;
      }
    }
  },
};
