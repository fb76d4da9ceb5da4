import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockProject } from "../../../src/engine/lock.js";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "stack-lock-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("lockProject", () => {
  it("excludes a second holder until released", async () => {
    const run = tmp();
    const a = await lockProject(run, "p", "up");
    await expect(lockProject(run, "p", "down", 200)).rejects.toThrow(/project "p" is busy: `up` \(pid \d+\)/);
    a.release();
    const b = await lockProject(run, "p", "down", 200);
    b.release();
    expect(existsSync(join(run, "p", "lock"))).toBe(false);
  });

  it("takes over a stale lock left by a dead process", async () => {
    const run = tmp();
    mkdirSync(join(run, "p"));
    writeFileSync(join(run, "p", "lock"), "999999999 up\n");
    const l = await lockProject(run, "p", "up", 200);
    l.release();
  });

  it("waits for a holder that releases in time", async () => {
    const run = tmp();
    const a = await lockProject(run, "p", "up");
    setTimeout(() => a.release(), 150);
    const b = await lockProject(run, "p", "down", 2000);
    b.release();
  });
});
