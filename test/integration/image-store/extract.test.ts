// The extractor's shortcuts, for real as root: a new file is opened with its
// mode and chowned only when its owner differs from what the kernel gives it
// (the creator, or a set-group-ID directory's group), so modes, set-ID bits,
// owners and times must still come out exactly as the archive says. Also
// content fed in pieces that split headers and files at odd places.
import { execFileSync } from "node:child_process";
import { lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LayerExtractor, asStackError } from "../../../src/image/tar/extract-layer.js";
import { systemSpecialFiles } from "../../../src/image/tar/special-files.js";
import { TarReader } from "../../../src/image/tar/tar-reader.js";
import { makeTar } from "../../helpers/busybox-image.js";
import { skipUnlessRoot } from "../../helpers/root.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-extract-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Unpacks `tar` in pieces of `piece` bytes, each scribbled over after it is pushed. */
async function unpack(tar: Buffer, piece: number, umask?: number, direct = false): Promise<string> {
  const root = join(dir, `root-${piece}-${umask ?? "default"}-${direct}`);
  execFileSync("mkdir", [root]);
  const old = umask === undefined ? undefined : process.umask(umask);
  try {
    const extractor = new LayerExtractor(root, systemSpecialFiles, () => direct);
    const reader = new TarReader(extractor);
    for (let at = 0; at < tar.length; at += piece) {
      const bytes = Buffer.from(tar.subarray(at, at + piece));
      reader.push(bytes);
      bytes.fill(0x55);
    }
    reader.finish();
    await extractor.finish();
  } finally {
    if (old !== undefined) process.umask(old);
  }
  return root;
}

const when = new Date("2021-05-06T07:08:09Z");

describe.skipIf(skipUnlessRoot("layer extractor tests"))("layer extractor", () => {
  it("keeps modes, set-ID bits, owners and times, in and out of set-group-ID directories, whatever the umask", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;
    const tar = await makeTar([
      { name: "shared/", type: "directory", mode: 0o2775, uid: 0, gid: 1234, mtime: when },
      { name: "shared/root-file", mode: 0o644, uid: 0, gid: 0, content: "r", mtime: when },
      { name: "shared/group-file", mode: 0o664, uid: 0, gid: 1234, content: "g", mtime: when },
      { name: "shared/made/inner", mode: 0o600, uid: 0, gid: 0, content: "i", mtime: when },
      { name: "shared/link", type: "symlink", linkname: "root-file", uid: 0, gid: 0, mtime: when },
      { name: "suid", mode: 0o4755, uid: 1000, gid: 1000, content: "s", mtime: when },
      { name: "sgid", mode: 0o2711, uid: 0, gid: 50, content: "s", mtime: when },
      { name: "open", mode: 0o666, content: "o", mtime: when },
      { name: "private", mode: 0o400, uid: 7, gid: 8, content: "p", mtime: when },
      { name: "big", mode: 0o640, uid: 1, gid: 2, content: big, mtime: when },
      { name: "hard", type: "link", linkname: "big" },
    ]);
    const expectations: Array<[string, number, number, number]> = [
      ["shared", 0o2775, 0, 1234],
      ["shared/root-file", 0o644, 0, 0],
      ["shared/group-file", 0o664, 0, 1234],
      ["shared/made/inner", 0o600, 0, 0],
      ["suid", 0o4755, 1000, 1000],
      ["sgid", 0o2711, 0, 50],
      ["open", 0o666, 0, 0],
      ["private", 0o400, 7, 8],
      ["big", 0o640, 1, 2],
    ];
    // Large files past the page cache or through it (fs/direct-write.ts), as the machine decides.
    for (const [piece, umask, direct] of [[1 << 20, 0o022, true], [4093, 0o077, false], [509, 0o000, true], [65_536, 0o022, false]] as const) {
      const root = await unpack(tar, piece, umask, direct);
      for (const [path, mode, uid, gid] of expectations) {
        const st = lstatSync(join(root, path));
        expect([path, st.mode & 0o7777, st.uid, st.gid]).toEqual([path, mode, uid, gid]);
        if (path !== "shared") expect([path, st.mtimeMs]).toEqual([path, when.getTime()]);
      }
      const link = lstatSync(join(root, "shared/link"));
      expect([link.isSymbolicLink(), link.uid, link.gid, link.mtimeMs]).toEqual([true, 0, 0, when.getTime()]);
      expect(readFileSync(join(root, "big")).equals(big)).toBe(true);
      expect(lstatSync(join(root, "hard")).ino).toBe(lstatSync(join(root, "big")).ino);
      expect(lstatSync(join(root, "shared")).mtimeMs).toBe(when.getTime());
    }
  });

  it.each([true, false])("writes large files (past the page cache: %s) with their content, metadata and order of replacement intact", async (direct) => {
    const pattern = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + (i >> 9)) & 0xff));
    const first = pattern(700_001, 3);
    const second = pattern(90_000, 5);
    const suid = pattern(200_000, 11);
    const tar = await makeTar([
      { name: "bin/", type: "directory", mode: 0o755, mtime: when },
      { name: "bin/tool", mode: 0o755, uid: 3, gid: 4, content: first, mtime: when },
      { name: "bin/alias", type: "link", linkname: "bin/tool" },
      // The same path again: the second copy replaces the first, whose writes may still be in flight.
      { name: "bin/tool", mode: 0o700, uid: 5, gid: 6, content: second, mtime: when },
      { name: "bin/su", mode: 0o4755, uid: 0, gid: 0, content: suid, mtime: when },
    ]);
    const root = await unpack(tar, 65_536, undefined, direct);
    const tool = lstatSync(join(root, "bin/tool"));
    expect([tool.mode & 0o7777, tool.uid, tool.gid, tool.mtimeMs, tool.nlink]).toEqual([0o700, 5, 6, when.getTime(), 1]);
    expect(readFileSync(join(root, "bin/tool")).equals(second)).toBe(true);
    // The hard link still names the first file, complete, with its own metadata set once its writes were done.
    const alias = lstatSync(join(root, "bin/alias"));
    expect([alias.mode & 0o7777, alias.uid, alias.gid, alias.mtimeMs]).toEqual([0o755, 3, 4, when.getTime()]);
    expect(readFileSync(join(root, "bin/alias")).equals(first)).toBe(true);
    const su = lstatSync(join(root, "bin/su"));
    expect([su.mode & 0o7777, su.mtimeMs]).toEqual([0o4755, when.getTime()]);
    expect(readFileSync(join(root, "bin/su")).equals(suid)).toBe(true);
  });

  it.each([true, false])("fails with the disk's error when a large file does not fit (past the page cache: %s), and leaves nothing open", async (direct) => {
    const small = join(dir, "small");
    execFileSync("mkdir", [small]);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]);
    try {
      const tar = await makeTar([{ name: "huge", content: Buffer.alloc(3 * 1024 * 1024, 7) }]);
      const extractor = new LayerExtractor(small, systemSpecialFiles, () => direct);
      const reader = new TarReader(extractor);
      const failure = (async () => {
        try {
          for (let at = 0; at < tar.length; at += 65_536) reader.push(tar.subarray(at, at + 65_536));
          reader.finish();
          await extractor.finish();
        } catch (e) {
          throw asStackError(e); // as LayerUnpacking does with what push() throws
        }
      })();
      await expect(failure).rejects.toThrow(/cannot write the layer: .*ENOSPC/);
      await extractor.abort();
      const fds = execFileSync("ls", ["-l", `/proc/${process.pid}/fd`]).toString();
      expect(fds).not.toContain(join(small, "huge"));
    } finally {
      execFileSync("umount", [small]);
    }
  });

  it("refuses a truncated archive part-way and leaves the file it was writing closed", async () => {
    const tar = await makeTar([{ name: "f", content: Buffer.alloc(100_000, 1) }]);
    const root = join(dir, "cut");
    execFileSync("mkdir", [root]);
    const extractor = new LayerExtractor(root, systemSpecialFiles, () => true);
    const reader = new TarReader(extractor);
    reader.push(tar.subarray(0, 50_000));
    expect(() => reader.finish()).toThrow(/not a valid tar: it ends \d+ bytes before the end of an entry's content/);
    await extractor.abort();
    const fds = execFileSync("ls", ["-l", `/proc/${process.pid}/fd`]).toString();
    expect(fds).not.toContain(join(root, "f"));
  });
});
