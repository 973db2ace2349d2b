/**
 * Lent buffers: memory that a producer recycles. On this kind of host (a nested VM) the first
 * touch of fresh memory is slow: copying 100 MB into newly allocated buffers took 200 ms, into a
 * reused one 67 ms. Node gives every socket read a new buffer, so receiving a 114 MB image cost
 * 0.78 s of CPU; reading into recycled slabs cut that to 0.17 s (see download.ts).
 *
 * The rule for consumers: a lent chunk is valid until the consumer asks its producer for the
 * next one. A consumer that keeps it longer (an asynchronous decompressor) calls `retain(chunk)`
 * first and `release(chunk)` when done, exactly once each. Both are no-ops for ordinary buffers,
 * so code that retains and releases works on any input.
 */

/** Slab of a pool: one socket read's worth of memory. */
interface Slab {
  buf: Buffer;
  refs: number;
  pool: SlabPool;
}

const slabs = new WeakMap<ArrayBufferLike, Slab>();

function unref(s: Slab): void {
  if (s.refs <= 0) return; // a release too many must never free a slab still in use
  if (--s.refs === 0) s.pool.free.push(s);
}

/** Keeps `chunk`'s memory from being recycled until `release(chunk)`. */
export function retain(chunk: Buffer): void {
  const s = slabs.get(chunk.buffer);
  if (s) s.refs++;
}

export function release(chunk: Buffer): void {
  const s = slabs.get(chunk.buffer);
  if (s) unref(s);
}

/** Whether `chunk` lives in a recycled slab (tests; a consumer never needs to ask). */
export function isLent(chunk: Buffer): boolean {
  return slabs.has(chunk.buffer);
}

/**
 * Fixed-size slabs, recycled when the last reference goes. It grows when every slab is out (a
 * consumer holds them): the producer bounds it by pausing while its consumer is behind.
 */
export class SlabPool {
  readonly slabSize: number;
  /** @internal */
  readonly free: Slab[] = [];
  private count = 0;

  constructor(slabSize: number) {
    this.slabSize = slabSize;
  }

  /** A slab with one reference (the taker's), to be given back with `release`. */
  take(): Buffer {
    let s = this.free.pop();
    if (!s) {
      // its own ArrayBuffer (not a slice of Node's shared pool): the WeakMap key is the slab
      s = { buf: Buffer.allocUnsafeSlow(this.slabSize), refs: 0, pool: this };
      slabs.set(s.buf.buffer, s);
      this.count++;
    }
    s.refs = 1;
    return s.buf;
  }

  /** Slabs allocated so far (tests: recycling keeps this small). */
  get allocated(): number {
    return this.count;
  }

  get available(): number {
    return this.free.length;
  }
}
