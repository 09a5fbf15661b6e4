/**
 * A FIFO cap on concurrent asynchronous work (zlib compress/inflate of one endpoint):
 * at most `max` tasks run at once, the rest start in call order as slots free up, so
 * per-socket call order (which permessage-deflate relies on) is preserved.
 */
export class Limiter {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly max: number) {}

  get active(): number {
    return this.running;
  }
  get waiting(): number {
    return this.queue.length;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.max && this.queue.length === 0) return this.start(task);
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        this.start(task).then(resolve, reject);
      });
    });
  }

  private start<T>(task: () => Promise<T>): Promise<T> {
    this.running++;
    let p: Promise<T>;
    try {
      p = task();
    } catch (e) {
      p = Promise.reject(e);
    }
    return p.finally(() => {
      this.running--;
      const next = this.queue.shift();
      if (next !== undefined) next();
    });
  }
}
