/**
 * `storage`: a per-site persistent key-value store of JSON values. The host
 * keeps the values in memory (as JSON text) and writes the whole store to one
 * file in the site folder with write-temp-then-rename, so a crash leaves
 * either the old or the new file, never half of one. Writes of one tick are
 * coalesced into one file write.
 * @module
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";

/** What scripts reach through `storage`: values cross as JSON text. */
export interface KeyValueStore {
  getJson(key: string): string | undefined;
  setJson(key: string, json: string): void;
  delete(key: string): boolean;
  keys(): string[];
}

/** Called after every change: `json` is undefined for a deletion. */
export type StorageListener = (key: string, json: string | undefined, origin: unknown) => void;

export interface SiteStorageOptions {
  /** Largest total size of keys and JSON values in bytes (default 16 MiB); a larger set throws. */
  maxBytes?: number;
  /** Delay before a coalesced write in ms (default 0: the next macrotask). */
  flushDelayMs?: number;
}

let tmpCounter = 0;

export class SiteStorage implements KeyValueStore {
  readonly file: string;
  private readonly data = new Map<string, string>();
  private readonly listeners = new Set<StorageListener>();
  /** Largest total size of keys and JSON values in bytes. */
  readonly maxBytes: number;
  private readonly flushDelayMs: number;
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dirty = false;

  /** Opens (or starts) the store kept in `file`; a missing file is an empty store. */
  constructor(file: string, options: SiteStorageOptions = {}) {
    this.file = file;
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.flushDelayMs = options.flushDelayMs ?? 0;
    let text: string | undefined;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
    if (text !== undefined && text.trim() !== "") {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      for (const [k, v] of Object.entries(parsed)) {
        const json = JSON.stringify(v);
        this.data.set(k, json);
        this.bytes += k.length + json.length;
      }
    }
  }

  get(key: string): unknown {
    const json = this.data.get(key);
    return json === undefined ? undefined : JSON.parse(json);
  }

  set(key: string, value: unknown, origin?: unknown): void {
    const json = JSON.stringify(value);
    if (json === undefined) this.delete(key, origin);
    else this.setJson(key, json, origin);
  }

  getJson(key: string): string | undefined {
    return this.data.get(key);
  }

  setJson(key: string, json: string, origin?: unknown): void {
    const old = this.data.get(key);
    const next = this.bytes - (old === undefined ? 0 : key.length + old.length) + key.length + json.length;
    if (next > this.maxBytes) throw new RangeError(`storage is full (limit ${this.maxBytes} bytes)`);
    this.bytes = next;
    this.data.set(key, json);
    this.changed(key, json, origin);
  }

  delete(key: string, origin?: unknown): boolean {
    const old = this.data.get(key);
    if (old === undefined) return false;
    this.bytes -= key.length + old.length;
    this.data.delete(key);
    this.changed(key, undefined, origin);
    return true;
  }

  keys(): string[] {
    return [...this.data.keys()];
  }

  /** All entries as JSON text (to seed a replica in a worker). */
  snapshot(): [string, string][] {
    return [...this.data];
  }

  /** Listens to changes (replicas in websocket-script workers use this). Returns the unsubscribe function. */
  onChange(listener: StorageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Writes pending changes now. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return;
    this.dirty = false;
    let out = "{";
    let first = true;
    for (const [k, v] of this.data) {
      out += `${first ? "" : ","}\n${JSON.stringify(k)}:${v}`;
      first = false;
    }
    out += "\n}\n";
    const tmp = `${this.file}.${Date.now().toString(36)}-${(tmpCounter++).toString(36)}.tmp`;
    try {
      const fd = openSync(tmp, "w");
      try {
        writeSync(fd, out);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {}
      this.dirty = true;
      throw e;
    }
  }

  /** Flushes and stops the pending write timer. */
  close(): void {
    this.flush();
    this.listeners.clear();
  }

  private changed(key: string, json: string | undefined, origin: unknown): void {
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.flushDelayMs);
    for (const l of this.listeners) l(key, json, origin);
  }
}

/** A store that forgets everything (the default when a host gives none). */
export class MemoryStorage implements KeyValueStore {
  private readonly data = new Map<string, string>();
  getJson(key: string): string | undefined {
    return this.data.get(key);
  }
  setJson(key: string, json: string): void {
    this.data.set(key, json);
  }
  delete(key: string): boolean {
    return this.data.delete(key);
  }
  keys(): string[] {
    return [...this.data.keys()];
  }
}
