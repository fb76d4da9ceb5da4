// Remembered content digests of context files: used only while the file's
// (dev, ino, size, mtime, ctime) are unchanged, never for racy files, and a
// broken cache file costs reads, not correctness.
import { createHash } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ContentDigests, hashFileContent, RACY_MS } from "../../../src/image/build/content-digests.js";

let dir: string;
let cacheDir: string;
let ctx: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-digests-"));
  cacheDir = join(dir, "build-cache");
  ctx = join(dir, "ctx");
  mkdirSync(ctx);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
/** A file whose timestamps lie well in the past (not racy). */
function oldFile(name: string, content: string, secondsAgo = 60): string {
  const p = join(ctx, name);
  writeFileSync(p, content);
  const t = Date.now() / 1000 - secondsAgo;
  utimesSync(p, t, t);
  return p;
}
/** Reads `path` through a fresh ContentDigests (a new build); `now` defaults to a minute after the file's ctime. */
function digestIn(path: string, now?: number) {
  const st = lstatSync(path);
  const d = new ContentDigests(cacheDir, ctx, () => now ?? st.ctimeMs + 60_000);
  const hex = d.digest(path, st);
  d.save();
  return { hex, stats: { ...d.stats } };
}

describe("ContentDigests", () => {
  it("remembers the digest of an unchanged file between builds", () => {
    const p = oldFile("a.txt", "hello\n");
    expect(digestIn(p)).toEqual({ hex: sha("hello\n"), stats: { hits: 0, reads: 1 } });
    expect(digestIn(p)).toEqual({ hex: sha("hello\n"), stats: { hits: 1, reads: 0 } });
  });

  it("reads a file again when it was rewritten with the same size and its mtime put back", () => {
    const p = oldFile("a.txt", "one\n");
    const before = lstatSync(p);
    digestIn(p);
    writeFileSync(p, "two\n");
    utimesSync(p, before.atime, before.mtime);
    expect(lstatSync(p).mtimeMs).toBe(before.mtimeMs);
    expect(digestIn(p)).toEqual({ hex: sha("two\n"), stats: { hits: 0, reads: 1 } });
  });

  it("reads a file again after a chmod (its ctime moved)", () => {
    const p = oldFile("a.txt", "x");
    digestIn(p);
    chmodSync(p, 0o600);
    expect(digestIn(p).stats).toEqual({ hits: 0, reads: 1 });
  });

  it("reads a file again when another file took its name (another inode)", () => {
    const p = oldFile("a.txt", "same");
    const st = lstatSync(p);
    digestIn(p);
    rmSync(p);
    writeFileSync(join(ctx, "filler"), "keeps the old inode number in use");
    writeFileSync(p, "SAME");
    utimesSync(p, st.atime, st.mtime);
    expect(digestIn(p)).toEqual({ hex: sha("SAME"), stats: { hits: 0, reads: 1 } });
  });

  it("does not remember a racy file (timestamps within RACY_MS of the read)", () => {
    const p = join(ctx, "new.txt");
    writeFileSync(p, "fresh");
    const ctime = lstatSync(p).ctimeMs;
    expect(digestIn(p, ctime + RACY_MS / 2).stats).toEqual({ hits: 0, reads: 1 });
    expect(digestIn(p, ctime + RACY_MS / 2).stats).toEqual({ hits: 0, reads: 1 });
    // Once old enough it is remembered.
    expect(digestIn(p, ctime + RACY_MS * 2).stats).toEqual({ hits: 0, reads: 1 });
    expect(digestIn(p, ctime + RACY_MS * 2).stats).toEqual({ hits: 1, reads: 0 });
  });

  it.each([
    { name: "not JSON", text: "{nope" },
    { name: "another version", text: JSON.stringify({ version: 2, root: "", files: {} }) },
    { name: "entries of the wrong shape", text: JSON.stringify({ version: 1, root: "ROOT", files: { PATH: "bogus" } }) },
  ])("a cache file that is $name is ignored", ({ text }) => {
    const p = oldFile("a.txt", "content");
    digestIn(p);
    const [file] = readdirSync(join(cacheDir, "digests"));
    writeFileSync(join(cacheDir, "digests", file!), text.replace("ROOT", ctx).replace("PATH", p));
    expect(digestIn(p)).toEqual({ hex: sha("content"), stats: { hits: 0, reads: 1 } });
  });

  it("keeps one cache per context folder", () => {
    const p = oldFile("a.txt", "content");
    digestIn(p);
    const other = new ContentDigests(cacheDir, join(dir, "elsewhere"), () => Date.now());
    other.digest(p, lstatSync(p));
    expect(other.stats).toEqual({ hits: 0, reads: 1 });
  });

  it("a cache that cannot be written costs only reads", () => {
    writeFileSync(join(dir, "not-a-folder"), "");
    const p = oldFile("a.txt", "content");
    const d = new ContentDigests(join(dir, "not-a-folder"), ctx, () => Date.now());
    expect(d.digest(p, lstatSync(p))).toBe(sha("content"));
    expect(() => d.save()).not.toThrow();
  });

  it("hands the content of a file it reads whole to keep(), not of a remembered one", () => {
    const p = oldFile("a.txt", "kept");
    const kept: string[] = [];
    const later = () => lstatSync(p).ctimeMs + 60_000;
    const d = new ContentDigests(cacheDir, ctx, later);
    d.digest(p, lstatSync(p), (c) => kept.push(c.toString()));
    d.save();
    new ContentDigests(cacheDir, ctx, later).digest(p, lstatSync(p), (c) => kept.push(c.toString()));
    expect(kept).toEqual(["kept"]);
  });

  it("hashes a large file in pieces", () => {
    const big = Buffer.alloc(3 * (1 << 20) + 123, 7);
    big.write("start");
    const p = join(ctx, "big.bin");
    writeFileSync(p, big);
    expect(hashFileContent(p, big.length)).toBe(sha(big));
  });
});
