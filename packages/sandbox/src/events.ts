/**
 * `events`: named events that any script of a site can emit and listen to.
 * The hub lives on the host's main thread; websocket-script hosts subscribe
 * for their workers, page scripts emit. A server with several processes
 * relays with {@link EventHub.onEmit} and {@link EventHub.deliver}.
 * @module
 */

/** Receives an event: data is JSON text. */
export type EventListener = (name: string, json: string) => void;

export class EventHub {
  private readonly byName = new Map<string, Set<EventListener>>();
  private readonly relays = new Set<EventListener>();

  /** Listens to events called `name`. Returns the unsubscribe function. */
  on(name: string, listener: EventListener): () => void {
    let set = this.byName.get(name);
    if (!set) this.byName.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byName.get(name) === set) this.byName.delete(name);
    };
  }

  /** Emits an event from a script of this process: local listeners and relays get it. */
  emit(name: string, json: string): void {
    this.deliver(name, json);
    for (const r of this.relays) r(name, json);
  }

  /** Delivers an event that came from elsewhere (another process) to local listeners only. */
  deliver(name: string, json: string): void {
    const set = this.byName.get(name);
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(name, json);
      } catch {
        // A listener's failure must not stop delivery to the others.
      }
    }
  }

  /** Sees every locally emitted event (to relay it to other processes). Returns the unsubscribe function. */
  onEmit(relay: EventListener): () => void {
    this.relays.add(relay);
    return () => this.relays.delete(relay);
  }

  /** Number of listeners of `name` (for tests and metrics). */
  listenerCount(name: string): number {
    return this.byName.get(name)?.size ?? 0;
  }
}
