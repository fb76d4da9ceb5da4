// The pacing of a pull's layer tasks: Slots (at most N holders, served in
// order, nothing granted after close) and runAll (every task runs; the
// first failure is told at once, and reported only once all have settled).
import { describe, expect, it } from "vitest";
import { Slots, runAll } from "../../../src/image/registry/pool.js";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("Slots", () => {
  it("lets at most N hold a slot, in the order they asked", async () => {
    const slots = new Slots(2);
    const order: number[] = [];
    const got = [1, 2, 3, 4].map((i) => slots.acquire().then((ok) => (order.push(i), ok)));
    await tick();
    expect(order).toEqual([1, 2]);
    slots.release();
    await tick();
    expect(order).toEqual([1, 2, 3]);
    slots.release();
    await tick();
    expect(order).toEqual([1, 2, 3, 4]);
    expect(await Promise.all(got)).toEqual([true, true, true, true]);
  });

  it("grants nothing after close(): those waiting and those asking later get false", async () => {
    const slots = new Slots(1);
    expect(await slots.acquire()).toBe(true);
    const waiting = slots.acquire();
    slots.close();
    expect(await waiting).toBe(false);
    slots.release();
    expect(await slots.acquire()).toBe(false);
  });
});

describe("runAll", () => {
  it("tells the first failure at once, waits for the others to settle, and rejects with it", async () => {
    const settled: string[] = [];
    let told = 0;
    const run = runAll(
      ["slow", "bad", "worse"],
      async (name) => {
        if (name === "slow") {
          await new Promise((r) => setTimeout(r, 50));
          settled.push(name);
          return;
        }
        await tick();
        settled.push(name);
        throw new Error(`${name} failed`);
      },
      () => {
        told++;
        expect(settled).not.toContain("slow");
      },
    );
    await expect(run).rejects.toThrow("bad failed");
    expect(told).toBe(1);
    expect(settled).toContain("slow");
  });

  it("resolves when every task does", async () => {
    const done: number[] = [];
    await runAll([1, 2, 3], async (n) => void done.push(n));
    expect(done.sort()).toEqual([1, 2, 3]);
  });
});
