// The store lock with real files and processes: mutual exclusion, a dead
// holder's lock taken over, a live holder waited for and then reported.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { withStoreLock } from "../../../src/image/store/store-lock.js";
import type { HostSnapshot } from "../../helpers/leaks.js";
// Scoped to this test's folder: concurrent tests of other layers make netns, links and cgroups.
import { assertNoOwnLeaks, snapshotOwn } from "../registry/own-leaks.js";

let dir: string;
let before: HostSnapshot;

describe("image store lock", () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-image-lock-"));
    before = snapshotOwn(dir);
  });
  afterEach(() => {
    assertNoOwnLeaks(before, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets one holder in at a time and removes the lock after", async () => {
    const path = join(dir, "images/lock");
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withStoreLock(path, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 10));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(existsSync(path)).toBe(false);
  });

  it("takes over the lock of a dead process, leaving nothing aside", async () => {
    const dead = spawnSync("true").pid!;
    const path = join(dir, "lock");
    writeFileSync(path, `${dead}\n`);
    expect(await withStoreLock(path, async () => "ran")).toBe("ran");
    expect(readdirSync(dir)).toEqual([]);
  });

  it("waits for a live holder, then fails naming it", async () => {
    const path = join(dir, "lock");
    writeFileSync(path, `${process.ppid}\n`);
    await expect(withStoreLock(path, async () => "ran", 200)).rejects.toThrow(new RegExp(`the image store is locked by pid ${process.ppid}`));
    expect(existsSync(path)).toBe(true);
  });
});
