// Direct writes for real, in a temporary folder (O_DIRECT needs no
// privilege): every size around the block and staging-buffer edges, fed in
// awkward pieces, comes out byte for byte; the descriptor really is O_DIRECT;
// the last partial block lands in the file it belongs to even when its path
// was replaced meanwhile; the staging buffers all come back; and the
// back-pressure promise neither leaves a producer waiting for ever nor fails
// to settle.
import { randomBytes } from "node:crypto";
import { closeSync, constants, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DIRECT_ALIGN, STAGE_BYTES, STAGE_POOL, directWritesBehind, openDirect, stagingBuffersOut, type DirectWriter } from "../../../src/fs/direct-write.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-direct-"));
});
afterEach(() => {
  expect(stagingBuffersOut()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

function open(name: string): DirectWriter {
  const w = openDirect(join(dir, name), CREATE, 0o640);
  if (!w) throw new Error("O_DIRECT refused in the test folder");
  return w;
}

/** The open flags of a descriptor of this process, from /proc (octal). */
function flagsOf(fd: number): number {
  const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
  return parseInt(m![1]!, 8);
}

async function writeAll(w: DirectWriter, content: Buffer, piece: number): Promise<void> {
  try {
    for (let at = 0; at < content.length; at += piece) {
      const bytes = Buffer.from(content.subarray(at, at + piece));
      w.write(bytes);
      bytes.fill(0x55); // the writer copied them
    }
    await w.end();
  } finally {
    closeSync(w.fd);
  }
}

describe("direct writes", () => {
  const sizes = [0, 1, DIRECT_ALIGN - 1, DIRECT_ALIGN, DIRECT_ALIGN + 1, STAGE_BYTES - 1, STAGE_BYTES, STAGE_BYTES + 1, 3 * STAGE_BYTES + 12_345];
  it.each(sizes.flatMap((size) => [7_919, 65_536, STAGE_BYTES + 3].map((piece) => ({ size, piece }))))("writes $size bytes given in pieces of $piece, byte for byte", async ({ size, piece }) => {
    const content = randomBytes(size);
    const w = open("f");
    expect(flagsOf(w.fd) & constants.O_DIRECT).toBe(constants.O_DIRECT);
    await writeAll(w, content, piece);
    expect(readFileSync(join(dir, "f")).equals(content)).toBe(true);
  });

  it("puts the last partial block into its own file even when its path was replaced meanwhile", async () => {
    const content = randomBytes(STAGE_BYTES + 5_000);
    const w = open("f");
    w.write(content);
    renameSync(join(dir, "f"), join(dir, "moved"));
    writeFileSync(join(dir, "f"), "someone else's");
    await writeAll(w, Buffer.alloc(0), 1);
    expect(readFileSync(join(dir, "moved")).equals(content)).toBe(true);
    expect(readFileSync(join(dir, "f"), "utf8")).toBe("someone else's");
  });

  it("abandon() drops what is staged and settles once its writes are done", async () => {
    const w = open("f");
    w.write(randomBytes(2 * STAGE_BYTES + 100));
    expect(stagingBuffersOut()).toBeGreaterThan(0);
    await w.abandon();
    closeSync(w.fd);
    // What had gone to the disk is there; the staged rest is not.
    expect(readFileSync(join(dir, "f")).length).toBe(2 * STAGE_BYTES);
  });

  it("refuses a write after its end", async () => {
    const w = open("f");
    await writeAll(w, Buffer.from("x"), 1);
    expect(() => w.write(Buffer.from("y"))).toThrow(/after its end/);
  });

  it("does not ask a producer to wait when nothing in flight could give a buffer back", async () => {
    // Writers holding their staging buffers, none writing: all but a few buffers out, nothing in flight.
    const held = Array.from({ length: STAGE_POOL - 4 }, (_, i) => open(`held-${i}`));
    expect(directWritesBehind()).toBeUndefined();
    // Writes going out: now it is behind, and the promise settles as they complete.
    const busy = held.slice(0, 2);
    for (const w of busy) w.write(randomBytes(STAGE_BYTES));
    const wait = directWritesBehind();
    expect(wait).toBeInstanceOf(Promise);
    await wait;
    for (const w of held) await writeAll(w, Buffer.alloc(0), 1);
  });

  it("with every staging buffer held, opens nothing more and writes a full buffer at once instead of asynchronously", async () => {
    const held = Array.from({ length: STAGE_POOL }, (_, i) => open(`held-${i}`));
    expect(stagingBuffersOut()).toBe(STAGE_POOL);
    // No buffer to stage into: the caller is told to write plainly, and nothing was created.
    expect(openDirect(join(dir, "extra"), CREATE, 0o640)).toBeNull();
    expect(existsSync(join(dir, "extra"))).toBe(false);
    // A writer whose buffer fills with none free writes it before write() returns, and keeps its buffer.
    const content = randomBytes(2 * STAGE_BYTES + 5);
    held[0]!.write(content);
    expect(stagingBuffersOut()).toBe(STAGE_POOL);
    expect(statSync(join(dir, "held-0")).size).toBe(2 * STAGE_BYTES);
    await writeAll(held[0]!, Buffer.alloc(0), 1);
    expect(readFileSync(join(dir, "held-0")).equals(content)).toBe(true);
    for (const w of held.slice(1)) await writeAll(w, Buffer.alloc(0), 1);
  });

  it("throws an open error other than EINVAL (an existing file) and keeps no buffer", () => {
    writeFileSync(join(dir, "there"), "x");
    expect(() => openDirect(join(dir, "there"), CREATE, 0o640)).toThrow(/EEXIST/);
  });

  it("creates the file with the mode given, exclusively", async () => {
    const w = openDirect(join(dir, "m"), CREATE, 0o600);
    await writeAll(w!, Buffer.alloc(10), 10);
    expect(statSync(join(dir, "m")).mode & 0o777).toBe(0o600);
    expect(() => openDirect(join(dir, "m"), CREATE, 0o600)).toThrow(/EEXIST/);
  });
});
