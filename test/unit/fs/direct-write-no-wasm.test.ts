// Without WebAssembly memory (a Node run with --jitless, or an address-space
// limit that refuses its reservation) there are no aligned buffers:
// openDirect() says null without creating anything, and the caller writes
// through the page cache. Its own file: the module remembers it.
import { constants, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openDirect } from "../../../src/fs/direct-write.js";

afterEach(() => vi.unstubAllGlobals());

describe("direct writes without WebAssembly memory", () => {
  it("returns null, creates no file, and does not try again", () => {
    const dir = mkdtempSync(join(tmpdir(), "stack-direct-nowasm-"));
    try {
      let tries = 0;
      vi.stubGlobal("WebAssembly", {
        Memory: class {
          constructor() {
            tries++;
            throw new RangeError("WebAssembly.Memory(): could not allocate memory");
          }
        },
      });
      const opens: string[] = [];
      const open = (p: string) => {
        opens.push(p);
        return 99;
      };
      expect(openDirect(join(dir, "f"), constants.O_WRONLY | constants.O_CREAT, 0o644, open)).toBeNull();
      expect(openDirect(join(dir, "g"), constants.O_WRONLY | constants.O_CREAT, 0o644, open)).toBeNull();
      expect(tries).toBe(1);
      expect(opens).toEqual([]);
      expect(existsSync(join(dir, "f"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
