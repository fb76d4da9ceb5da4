import { describe, expect, it } from "vitest";
import { ChangeQueue, type ChangeBatch, type Timers } from "../../../src/watch/change-queue.js";

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements Timers {
  t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

const flat = (b: ChangeBatch<string>) => Object.fromEntries([...b].map(([k, v]) => [k, [...v].sort()]));
const tick = () => new Promise((r) => setImmediate(r));

function setup(runImpl?: (b: ChangeBatch<string>) => Promise<void>) {
  const clock = new FakeClock();
  const runs: Record<string, string[]>[] = [];
  const q = new ChangeQueue<string>({
    quietMs: 50,
    maxWaitMs: 1000,
    timers: clock,
    run: async (b) => {
      runs.push(flat(b));
      await runImpl?.(b);
    },
  });
  return { clock, runs, q };
}

describe("ChangeQueue", () => {
  it("runs nothing until the files are quiet, then one batch", async () => {
    const { clock, runs, q } = setup();
    q.add("r", "/a");
    clock.advance(40);
    q.add("r", "/b");
    clock.advance(40);
    expect(runs).toEqual([]);
    clock.advance(10);
    await tick();
    expect(runs).toEqual([{ r: ["/a", "/b"] }]);
  });

  it("turns a burst of 1,000 changes into one batch, duplicates merged", async () => {
    const { clock, runs, q } = setup();
    for (let i = 0; i < 1000; i++) {
      q.add(i % 2 ? "r1" : "r2", `/f${i}`);
      q.add(i % 2 ? "r1" : "r2", `/f${i}`);
      clock.advance(i % 2);
    }
    clock.advance(50);
    await q.idle();
    expect(runs).toHaveLength(1);
    expect([runs[0]!.r1!.length, runs[0]!.r2!.length]).toEqual([500, 500]);
  });

  it("cuts a steady trickle at maxWaitMs", async () => {
    const { clock, runs, q } = setup();
    for (let i = 0; i < 150; i++) {
      q.add("r", `/f${i}`);
      clock.advance(10);
    }
    clock.advance(100);
    await q.idle();
    expect(runs.map((r) => r.r!.length)).toEqual([100, 50]);
  });

  it("queues exactly one more batch for changes during a run, with all of them merged", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const { clock, runs, q } = setup(async () => {
      if (calls++ === 0) await gate;
    });
    q.add("r", "/first");
    clock.advance(50);
    await tick();
    expect(runs).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      q.add("r", `/during${i}`);
      clock.advance(60); // each one its own quiet window: five flushes while running
    }
    q.add("other", "/x");
    clock.advance(60);
    await tick();
    expect(runs).toHaveLength(1);
    release();
    await q.idle();
    expect(runs).toEqual([{ r: ["/first"] }, { r: ["/during0", "/during1", "/during2", "/during3", "/during4"], other: ["/x"] }]);
  });

  it("goes on after a run rejects", async () => {
    const { clock, runs, q } = setup(async (b) => {
      if (b.has("bad")) throw new Error("boom");
    });
    q.add("bad", "/a");
    clock.advance(50);
    await q.idle();
    q.add("good", "/b");
    clock.advance(50);
    await q.idle();
    expect(runs).toEqual([{ bad: ["/a"] }, { good: ["/b"] }]);
  });

  it("close drops what did not start and waits for the running batch", async () => {
    let release!: () => void;
    let finished = false;
    const { clock, runs, q } = setup(async () => {
      await new Promise<void>((r) => (release = r));
      finished = true;
    });
    q.add("r", "/a");
    clock.advance(50);
    await tick();
    q.add("r", "/b");
    clock.advance(50);
    q.add("r", "/c");
    const closed = q.close();
    release();
    await closed;
    expect(finished).toBe(true);
    expect(runs).toEqual([{ r: ["/a"] }]);
    q.add("r", "/d");
    clock.advance(100);
    await tick();
    expect(runs).toHaveLength(1);
    expect(q.busy).toBe(false);
  });

  it("flush ends the window at once", async () => {
    const { runs, q } = setup();
    q.add("r", "/a");
    q.flush();
    await q.idle();
    expect(runs).toEqual([{ r: ["/a"] }]);
  });
});

describe("ChangeQueue quiet time chosen per batch", () => {
  it("waits longer once the batch looks like a burst (weighted changes count)", async () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    const q = new ChangeQueue<string>({ quietMs: (_b, n) => (n >= 20 ? 300 : 40), maxWaitMs: 10_000, timers: clock, run: async (b) => void runs.push(b.get("r")!.size) });
    q.add("r", "/dir", 20); // a new directory weighs as a burst
    clock.advance(100);
    q.add("r", "/dir/a");
    clock.advance(299);
    await tick();
    expect(runs).toEqual([]);
    clock.advance(1);
    await q.idle();
    expect(runs).toEqual([2]);
    q.add("r", "/x");
    clock.advance(40);
    await q.idle();
    expect(runs).toEqual([2, 1]);
  });
});
