// Output buffers shared between the inflate that fills them and the file
// writes that drain them on libuv's threadpool. A buffer is held by its
// filler until it is full, and once more by every write still copying from
// it; when the last hold goes, it returns to its pool for the next layer.
// Fresh memory is what costs on this VM (page faults, then garbage
// collection: docs/registry.md), so buffers are reused, never dropped, and a
// filler that runs ahead of its writes waits (`whenFewerThan`) instead of
// taking more.

/** What a consumer of a view holds while it still reads the bytes after its call returns. */
export interface BufferHolder {
  hold(): void;
  release(): void;
}

export class HeldBuffer implements BufferHolder {
  private holds = 0;

  constructor(readonly bytes: Buffer, private readonly freed: (b: HeldBuffer) => void) {}

  hold(): void {
    this.holds++;
  }

  release(): void {
    if (this.holds <= 0) throw new Error("HeldBuffer released more often than held");
    if (--this.holds === 0) this.freed(this);
  }

  get held(): boolean {
    return this.holds > 0;
  }
}

/**
 * Buffers of one size, at most `limit` out at once: take() gives a buffer
 * held once (by the taker) at once while fewer are out, else once one comes
 * back. A taker holding one buffer at most while it waits for the next (as
 * an inflate does) can never block the others for good.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];
  private out = 0;
  private readonly waiting: Array<(b: HeldBuffer) => void> = [];

  constructor(readonly size: number, readonly limit: number) {}

  /** Buffers taken and not yet back. */
  get outstanding(): number {
    return this.out;
  }

  take(): HeldBuffer | Promise<HeldBuffer> {
    if (this.out < this.limit) return this.lend(this.spare.pop() ?? Buffer.allocUnsafe(this.size));
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private lend(bytes: Buffer): HeldBuffer {
    const b = new HeldBuffer(bytes, (freed) => this.give(freed));
    b.hold();
    this.out++;
    return b;
  }

  private give(b: HeldBuffer): void {
    this.out--;
    const next = this.waiting.shift();
    if (next) next(this.lend(b.bytes));
    else this.spare.push(b.bytes);
  }
}
