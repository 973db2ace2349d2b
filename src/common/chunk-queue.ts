/**
 * Chunks handed from event callbacks (a stream's 'data', a socket's reads) to one asynchronous
 * consumer: in order, then the end, or a failure, which the consumer sees once it has taken the
 * chunks that came before it. The producer decides about pausing; `take` tells it what is left.
 */
export class ChunkQueue {
  private readonly items: Buffer[] = [];
  private done = false;
  private failure: { err: unknown } | undefined;
  private wake: (() => void) | undefined;

  get length(): number {
    return this.items.length;
  }

  get ended(): boolean {
    return this.done;
  }

  /** The newest chunk not yet taken. */
  get last(): Buffer | undefined {
    return this.items.at(-1);
  }

  push(chunk: Buffer): void {
    this.items.push(chunk);
    this.signal();
  }

  /** Replaces the newest chunk not yet taken (one that grew). */
  replaceLast(chunk: Buffer): void {
    this.items[this.items.length - 1] = chunk;
    this.signal();
  }

  end(): void {
    this.done = true;
    this.signal();
  }

  /** The first failure counts. */
  fail(err: unknown): void {
    if (this.failure) return;
    this.failure = { err };
    this.signal();
  }

  /** Removes the chunks not yet taken (to give them back). */
  clear(): Buffer[] {
    return this.items.splice(0);
  }

  /** The chunks as they come; `taken(left)` runs as each one leaves the queue. */
  async *take(taken?: (left: number) => void): AsyncGenerator<Buffer> {
    for (;;) {
      const c = this.items.shift();
      if (c) {
        taken?.(this.items.length);
        yield c;
        continue;
      }
      if (this.failure) throw this.failure.err;
      if (this.done) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
