/**
 * The Node handle path's write slab: one off-heap buffer that small writes are copied into, or
 * encoded straight into (`Connection.allocate`), and written from.
 *
 * Why: a small Uint8Array lives on V8's heap, and handing one to the native `writeBuffer` makes
 * V8 move its bytes into a fresh off-heap ArrayBuffer (a malloc, a free and a young-generation
 * sweep per message). Allocating the frame in the first place costs a typed array per message
 * too. Slab memory is off-heap already, and views of it are cached.
 *
 * Regions are handed out from the top (a bump allocator) and counted while live: a region is
 * live from its allocation until the kernel has its bytes (at once, or when its asynchronous
 * write completes) or its connection drops it. When no region is live the slab starts again at
 * offset 0, where one cached view per length serves every write of that length: in the usual
 * case (the kernel takes each write at once) a small write allocates nothing. A slab that fills
 * up is left to its live regions (their write requests keep it alive) and replaced.
 *
 * `allocate` hands a region to a caller who fills it and passes it to `write()` right away. A
 * region the caller never writes (it found it could not use it) is still the top region at the
 * next allocation, which takes it back.
 */

/** Views at offset 0 are cached for lengths up to this. */
const VIEW_CACHE_MAX = 4096;

export class WriteSlab {
  readonly size: number;
  private bytes: Uint8Array;
  /**
   * `bytes.buffer`, kept: on Node 20 reading a typed array's `buffer` is a call into V8's C++
   * (not inlined), a few of which per message showed in profiles. Callers compare a view's
   * `buffer` with this once and pass what they learned along.
   */
  buffer: ArrayBufferLike;
  /** The next free byte (8-byte aligned). */
  private top = 0;
  /** Regions handed out and not yet released. */
  private live = 0;
  /** Views of `bytes` at offset 0, by length. */
  private views: (Uint8Array | undefined)[] = [];
  /** The last region `allocate` handed out, until it is written (`claim`). */
  private unclaimed: Uint8Array | null = null;

  constructor(size: number) {
    this.size = size;
    this.bytes = new Uint8Array(size);
    this.buffer = this.bytes.buffer;
  }

  /** A live region of `n` bytes (n ≤ size). */
  take(n: number): Uint8Array {
    const u = this.unclaimed;
    if (u !== null) {
      // Allocated and never written: it is the top region, so the top moves back over it.
      this.unclaimed = null;
      if (u.buffer === this.buffer) {
        this.top = u.byteOffset;
        if (--this.live === 0) this.top = 0;
      }
    }
    if (this.top + n > this.size) {
      this.bytes = new Uint8Array(this.size);
      this.buffer = this.bytes.buffer;
      this.top = 0;
      this.live = 0;
      this.views = [];
    }
    const at = this.top;
    this.top = (at + n + 7) & ~7;
    this.live++;
    if (at === 0 && n <= VIEW_CACHE_MAX) return (this.views[n] ??= new Uint8Array(this.buffer, 0, n));
    return new Uint8Array(this.buffer, at, n);
  }

  /** A region for a caller to fill and write at once (see the top of this file). */
  allocate(n: number): Uint8Array {
    const v = this.take(n);
    this.unclaimed = v;
    return v;
  }

  /** `v` was passed to write(): it is no longer the caller's to abandon. */
  claim(v: Uint8Array): void {
    if (v === this.unclaimed) this.unclaimed = null;
  }

  /** The region's bytes are no longer needed (a region of a replaced slab is ignored). */
  release(v: Uint8Array): void {
    if (v.buffer === this.buffer) this.releaseOwned();
  }

  /** `release` for a region the caller knows to be of the current slab. */
  releaseOwned(): void {
    if (--this.live === 0) this.top = 0;
  }

  /** Regions live now (for tests). */
  get liveRegions(): number {
    return this.live;
  }
}
