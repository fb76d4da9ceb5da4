// Debounce and coalesce, one queue per service. Changes gather into a batch
// until the files have been quiet for `quietMs` (or `maxWaitMs` after the
// first change of the batch, so a steady trickle still gets through); a burst
// such as a git checkout of 1,000 files thus becomes one batch. Batches run
// one at a time: whatever arrives while one runs is merged into a single
// queued batch, so a slow rebuild is followed by exactly one more, never by a
// storm of them.

/** Changed host paths, grouped by the rule (any key) they matched. */
export type ChangeBatch<R> = Map<R, Set<string>>;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  now: () => Date.now(),
};

export interface ChangeQueueOptions<R> {
  /** Quiet time that ends a batch: a number, or one chosen from the batch so far (its keys and how many changes it holds). */
  quietMs: number | ((batch: ChangeBatch<R>, changes: number) => number);
  maxWaitMs: number;
  /** Runs one batch; a rejection is the runner's own business (report it there) and does not stop the queue. */
  run(batch: ChangeBatch<R>): Promise<void>;
  timers?: Timers;
}

function mergeInto<R>(into: ChangeBatch<R>, from: ChangeBatch<R>): void {
  for (const [rule, paths] of from) {
    const set = into.get(rule);
    if (set === undefined) into.set(rule, new Set(paths));
    else for (const p of paths) set.add(p);
  }
}

export class ChangeQueue<R> {
  private collecting: ChangeBatch<R> | undefined;
  private firstAt = 0;
  private changes = 0;
  private timer: unknown;
  private queued: ChangeBatch<R> | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly timers: Timers;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: ChangeQueueOptions<R>) {
    this.timers = options.timers ?? realTimers;
  }

  /** Records a change; `weight` counts it as that many changes when the quiet time is chosen. */
  add(rule: R, path: string, weight = 1): void {
    if (this.closed) return;
    const now = this.timers.now();
    if (this.collecting === undefined) {
      this.collecting = new Map();
      this.firstAt = now;
      this.changes = 0;
    }
    this.changes += weight;
    let set = this.collecting.get(rule);
    if (set === undefined) this.collecting.set(rule, (set = new Set()));
    set.add(path);
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    const q = this.options.quietMs;
    const quiet = typeof q === "number" ? q : q(this.collecting, this.changes);
    const wait = Math.max(0, Math.min(quiet, this.firstAt + this.options.maxWaitMs - now));
    this.timer = this.timers.setTimeout(() => this.flush(), wait);
  }

  /** Ends the collecting window now (as if the files had gone quiet). */
  flush(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.collecting;
    this.collecting = undefined;
    if (batch === undefined || this.closed) return this.settleIfIdle();
    if (this.running !== undefined) {
      if (this.queued === undefined) this.queued = batch;
      else mergeInto(this.queued, batch);
      return;
    }
    this.start(batch);
  }

  /** True while a batch collects, waits or runs. */
  get busy(): boolean {
    return this.collecting !== undefined || this.queued !== undefined || this.running !== undefined;
  }

  /** Resolves once nothing collects, waits or runs. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops what was not started yet; resolves when the running batch (if any) ends. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.collecting = undefined;
    this.queued = undefined;
    await this.running;
    this.settleIfIdle();
  }

  private start(batch: ChangeBatch<R>): void {
    this.running = (async () => {
      try {
        await this.options.run(batch);
      } catch {
        // The runner reports its own failures; the queue goes on.
      }
    })().then(() => {
      this.running = undefined;
      const next = this.queued;
      this.queued = undefined;
      if (next !== undefined && !this.closed) this.start(next);
      else this.settleIfIdle();
    });
  }

  private settleIfIdle(): void {
    if (this.busy) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
