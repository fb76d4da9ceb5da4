// Runs tasks with at most `limit` at a time. On the first failure no new task
// starts and `onFailure` is told (to cut in-flight transfers short); the
// result waits for the running ones to settle, so nothing is left writing
// when the error reaches the caller.
export async function runPool<T>(items: T[], limit: number, task: (item: T) => Promise<void>, onFailure: () => void = () => undefined): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (e) {
        if (!failed) {
          failed = { error: e };
          onFailure();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
}

/**
 * At most `limit` holders at a time, served in the order they asked. A pull
 * holds one per layer only while the layer's bytes arrive, so the next
 * download starts while the finished one is synced and renamed. After
 * close() (a failure elsewhere) no one gets a slot: acquire() resolves false.
 */
export class Slots {
  private free: number;
  private readonly waiting: Array<(granted: boolean) => void> = [];
  private closed = false;

  constructor(limit: number) {
    this.free = Math.max(1, limit);
  }

  acquire(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next && !this.closed) next(true);
    else this.free++;
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w(false);
  }
}

/**
 * Runs every task at once (they pace themselves, e.g. with Slots). On the
 * first failure `onFailure` is told (to stop the others); the result waits
 * for all to settle, so nothing is left writing when the error reaches the
 * caller, and is that first failure.
 */
export function runAll<T>(items: T[], task: (item: T) => Promise<void>, onFailure: () => void = () => undefined): Promise<void> {
  // A pool as wide as the list starts every task at once.
  return runPool(items, items.length, task, onFailure);
}
