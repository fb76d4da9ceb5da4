// A filesystem that refuses O_DIRECT (the kernel answers EINVAL, after it has
// created the file): openDirect() removes the file, says null so that the
// caller writes through the page cache, and does not try again. Its own
// file: the refusal is remembered for the rest of the process.
import { constants, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDirect, stagingBuffersOut } from "../../../src/fs/direct-write.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-direct-refused-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("direct writes refused", () => {
  it("removes the file the kernel made, returns null, and does not try again", () => {
    const path = join(dir, "f");
    const calls: number[] = [];
    const refusing = (p: string, flags: number) => {
      calls.push(flags);
      writeFileSync(p, ""); // as the kernel does before it checks O_DIRECT
      throw Object.assign(new Error("EINVAL: invalid argument, open"), { code: "EINVAL" });
    };
    expect(openDirect(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644, refusing)).toBeNull();
    expect(calls).toHaveLength(1);
    expect(calls[0]! & constants.O_DIRECT).toBe(constants.O_DIRECT);
    expect(existsSync(path)).toBe(false);
    expect(stagingBuffersOut()).toBe(0);
    expect(openDirect(join(dir, "g"), constants.O_WRONLY | constants.O_CREAT, 0o644, refusing)).toBeNull();
    expect(calls).toHaveLength(1);
  });
});
