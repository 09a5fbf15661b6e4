/**
 * The pub/sub seam: the server hands every `publish` to an adapter and delivers
 * what the adapter reports back to its local subscribers. The default adapter is
 * in-process (synchronous, no copies); a Redis (or other) adapter can implement
 * the same interface to fan messages out across processes.
 */
import type { PubSubAdapter } from "./types.ts";

export class InProcessPubSub implements PubSubAdapter {
  private cb: ((topic: string, data: Uint8Array, binary: boolean) => void) | null = null;

  publish(topic: string, data: Uint8Array, binary: boolean): void {
    this.cb?.(topic, data, binary);
  }
  onMessage(cb: (topic: string, data: Uint8Array, binary: boolean) => void): void {
    this.cb = cb;
  }
  subscribe(_topic: string): void {}
  unsubscribe(_topic: string): void {}
  close(): void {
    this.cb = null;
  }
}
