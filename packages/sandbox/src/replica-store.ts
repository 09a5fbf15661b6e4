/**
 * A copy of a site's storage inside a worker thread: reads are local, and
 * every write is applied here at once (a page reads its own writes) and
 * reported through `onWrite` so the host applies it to the real store. The
 * host's store stays the authority: it sends changes made elsewhere, and
 * its value of a key whose write it refused, with {@link ReplicaStore.changed}.
 * @module
 */
import type { KeyValueStore } from "./storage.ts";

export class ReplicaStore implements KeyValueStore {
  private readonly data = new Map<string, string>();
  private bytes = 0;

  constructor(
    seed: Iterable<[string, string]>,
    /** Largest total size of keys and values, as the host's store counts it (no limit when absent). */
    private readonly maxBytes: number | undefined,
    private readonly onWrite: (key: string, json: string | null) => void,
  ) {
    for (const [k, v] of seed) this.put(k, v);
  }

  getJson(key: string): string | undefined {
    return this.data.get(key);
  }

  setJson(key: string, json: string): void {
    const old = this.data.get(key);
    const next = this.bytes - (old === undefined ? 0 : key.length + old.length) + key.length + json.length;
    // The same refusal the host's store would give, so the page sees it where it wrote.
    if (this.maxBytes !== undefined && next > this.maxBytes)
      throw new RangeError(`storage is full (limit ${this.maxBytes} bytes)`);
    this.put(key, json);
    this.onWrite(key, json);
  }

  delete(key: string): boolean {
    if (!this.remove(key)) return false;
    this.onWrite(key, null);
    return true;
  }

  keys(): string[] {
    return [...this.data.keys()];
  }

  /** A change made elsewhere (or the host's own value after it refused a write): applied without reporting it back. */
  changed(key: string, json: string | null): void {
    if (json === null) this.remove(key);
    else this.put(key, json);
  }

  private put(key: string, json: string): void {
    this.remove(key);
    this.data.set(key, json);
    this.bytes += key.length + json.length;
  }

  private remove(key: string): boolean {
    const old = this.data.get(key);
    if (old === undefined) return false;
    this.bytes -= key.length + old.length;
    this.data.delete(key);
    return true;
  }
}
