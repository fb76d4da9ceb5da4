// The push-driven tar reader against archives written by tar-stream, GNU tar
// and by hand: every piece it is given is scribbled over as soon as push()
// returns, so a reader that kept a view of its input would read garbage.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tar from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { META_LIMIT, TarReader, parsePax, type TarHeader } from "../../../src/image/tar/tar-reader.js";

interface Seen {
  header: Omit<TarHeader, "offset">;
  content: string;
}

/** Reads `archive` given in the pieces that `cuts` (offsets) make, scribbling over each piece after push(). */
function read(archive: Buffer, cuts: number[] = []): Seen[] {
  const seen: Seen[] = [];
  let current: { header: TarHeader; parts: Buffer[] } | undefined;
  let ended = true;
  const reader = new TarReader({
    entry(header) {
      expect(ended).toBe(true);
      ended = false;
      current = { header, parts: [] };
    },
    data(bytes) {
      expect(bytes.length).toBeGreaterThan(0);
      current!.parts.push(Buffer.from(bytes));
    },
    entryEnd() {
      const { offset: _offset, ...header } = current!.header;
      seen.push({ header, content: Buffer.concat(current!.parts).toString("latin1") });
      ended = true;
    },
  });
  const bounds = [0, ...cuts, archive.length];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const piece = Buffer.from(archive.subarray(bounds[k], bounds[k + 1]));
    reader.push(piece);
    piece.fill(0xaa);
  }
  reader.finish();
  expect(ended).toBe(true);
  return seen;
}

async function pack(entries: Array<{ header: Partial<tar.Header> & { name: string }; content?: string }>): Promise<Buffer> {
  const p = tar.pack();
  const parts: Buffer[] = [];
  const collected = (async () => {
    for await (const c of p) parts.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) p.entry(e.header as tar.Header, e.content ?? "");
  p.finalize();
  await collected;
  return Buffer.concat(parts);
}

/** A ustar header block by hand (checksum filled in unless given). */
function header(fields: { name: string; type?: string; size?: number; mode?: number; checksum?: string; prefix?: string; linkname?: string }): Buffer {
  const b = Buffer.alloc(512);
  b.write(fields.name, 0, "utf8");
  b.write(`${(fields.mode ?? 0o644).toString(8).padStart(7, "0")}\0`, 100);
  b.write("0000000\0", 108);
  b.write("0000000\0", 116);
  b.write(`${(fields.size ?? 0).toString(8).padStart(11, "0")}\0`, 124);
  b.write("14000000000\0", 136);
  b.write(fields.type ?? "0", 156);
  if (fields.linkname) b.write(fields.linkname, 157);
  b.write("ustar\x0000", 257, "latin1");
  if (fields.prefix) b.write(fields.prefix, 345);
  b.write("        ", 148);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(fields.checksum ?? `${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return b;
}

function padded(content: string): Buffer {
  const b = Buffer.from(content, "latin1");
  return Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
}

const longName = `${"deep/".repeat(40)}${"n".repeat(150)}.txt`;
const longLink = `${"target/".repeat(30)}file`;

const tmp = mkdtempSync(join(tmpdir(), "stack-tar-reader-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("TarReader", () => {
  it("reads tar-stream's files, directories, links, devices, pax long names and mtimes at every cut", async () => {
    const archive = await pack([
      { header: { name: "dir", type: "directory", mode: 0o2755, uid: 1000, gid: 1001, mtime: new Date(1_600_000_000_000) } },
      { header: { name: "dir/a.txt", mode: 0o4755, mtime: new Date(1_600_000_001_000) }, content: "hello\n" },
      { header: { name: "dir/empty" }, content: "" },
      { header: { name: "dir/block", size: 512 }, content: "x".repeat(512) },
      { header: { name: longName, pax: { "SCHILY.xattr.user.note": "café" } }, content: "long" },
      { header: { name: "ln", type: "link", linkname: "dir/a.txt" } },
      { header: { name: "sym", type: "symlink", linkname: longLink } },
      { header: { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 } },
      { header: { name: "pipe", type: "fifo" } },
      { header: { name: "big-uid", pax: { uid: "3000000", gid: "4000000" } }, content: "u" },
    ]);
    const whole = read(archive);
    expect(whole.map((e) => [e.header.name, e.header.type, e.content.length])).toEqual([
      ["dir", "directory", 0],
      ["dir/a.txt", "file", 6],
      ["dir/empty", "file", 0],
      ["dir/block", "file", 512],
      [longName, "file", 4],
      ["ln", "link", 0],
      ["sym", "symlink", 0],
      ["dev/null", "character-device", 0],
      ["pipe", "fifo", 0],
      ["big-uid", "file", 1],
    ]);
    expect(whole[0]!.header).toMatchObject({ mode: 0o2755, uid: 1000, gid: 1001, mtime: 1_600_000_000 });
    expect(whole[1]!.header).toMatchObject({ mode: 0o4755, mtime: 1_600_000_001 });
    expect(whole[1]!.content).toBe("hello\n");
    expect(whole[4]!.header.pax).toMatchObject({ path: longName, "SCHILY.xattr.user.note": "café" });
    expect(whole[5]!.header.linkname).toBe("dir/a.txt");
    expect(whole[6]!.header.linkname).toBe(longLink);
    expect(whole[7]!.header).toMatchObject({ devmajor: 1, devminor: 3, mode: 0o666 });
    expect(whole[9]!.header).toMatchObject({ uid: 3_000_000, gid: 4_000_000 });
    for (let cut = 1; cut < archive.length; cut++) expect(read(archive, [cut])).toEqual(whole);
    // Three pieces, the first cut every 7 bytes, the second 600 bytes further.
    for (let cut = 1; cut + 600 < archive.length; cut += 7) expect(read(archive, [cut, cut + 600])).toEqual(whole);
    expect(read(archive, Array.from({ length: archive.length - 1 }, (_, k) => k + 1))).toEqual(whole);
  });

  it("reads GNU tar's long names and long link names ('L', 'K'), at every cut", () => {
    const src = join(tmp, "gnu");
    mkdirSync(join(src, ...longName.split("/").slice(0, -1)), { recursive: true });
    writeFileSync(join(src, longName), "gnu long\n");
    symlinkSync(longLink, join(src, "sym"));
    const archive = execFileSync("tar", ["--format=gnu", "--sort=name", "--owner=0", "--group=0", "-C", src, "-cf", "-", longName, "sym"], { maxBuffer: 1 << 24 });
    const whole = read(archive);
    expect(whole.map((e) => [e.header.name, e.header.type, e.content])).toEqual([
      [longName, "file", "gnu long\n"],
      ["sym", "symlink", ""],
    ]);
    expect(whole[1]!.header.linkname).toBe(longLink);
    for (let cut = 1; cut < archive.length; cut += 3) expect(read(archive, [cut])).toEqual(whole);
  });

  it("reads GNU tar's pax format: sub-second mtimes and a global header applied to later entries", () => {
    const src = join(tmp, "pax");
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "f"), "pax\n");
    execFileSync("touch", ["-d", "2020-01-02T03:04:05.25Z", join(src, "f")]);
    const archive = execFileSync("tar", ["--format=pax", "--pax-option=globexthdr.name=g,comment=hi", "-C", src, "-cf", "-", "f"]);
    const [entry] = read(archive);
    expect(entry!.header.name).toBe("f");
    expect(entry!.header.mtime).toBe(Date.parse("2020-01-02T03:04:05.25Z") / 1000);
    expect(entry!.header.pax).toMatchObject({ comment: "hi" });
    expect(entry!.content).toBe("pax\n");
  });

  it("joins the ustar prefix and name, and gives links and directories no content whatever their size says", () => {
    const archive = Buffer.concat([
      header({ name: "name.txt", prefix: "some/prefix", size: 3 }),
      padded("abc"),
      header({ name: "d/", type: "5", size: 0 }),
      header({ name: "old-dir/", type: "\0" }),
      header({ name: "hard", type: "1", linkname: "some/prefix/name.txt", size: 0 }),
      Buffer.alloc(1024),
    ]);
    expect(read(archive).map((e) => [e.header.name, e.header.type, e.content])).toEqual([
      ["some/prefix/name.txt", "file", "abc"],
      ["d/", "directory", ""],
      ["old-dir/", "directory", ""],
      ["hard", "link", ""],
    ]);
  });

  it("reads base-256 numbers (GNU's encoding of large ids and sizes)", () => {
    const h = header({ name: "big" });
    h.fill(0, 108, 116);
    h[108] = 0x80;
    h.writeUIntBE(5_000_000_000, 110, 6);
    h.write("        ", 148);
    let sum = 0;
    for (const c of h) sum += c;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    expect(read(h)[0]!.header.uid).toBe(5_000_000_000);
  });

  it("passes entries of other types (sparse, volume labels) with their content, for the caller to skip", () => {
    const archive = Buffer.concat([header({ name: "label", type: "V", size: 5 }), padded("label"), header({ name: "after", size: 1 }), padded("z")]);
    expect(read(archive).map((e) => [e.header.name, e.header.type, e.header.typeflag, e.content])).toEqual([
      ["label", "other", "V", "label"],
      ["after", "file", "0", "z"],
    ]);
  });

  it.each([
    { name: "a header cut short", archive: () => header({ name: "a", size: 3 }).subarray(0, 300), error: /ends inside a header, 300 of 512 bytes/ },
    { name: "content cut short", archive: () => Buffer.concat([header({ name: "a", size: 700 }), Buffer.alloc(100)]), error: /ends 600 bytes before the end of an entry's content/ },
    { name: "padding cut short", archive: () => Buffer.concat([header({ name: "a", size: 3 }), Buffer.from("abc")]), error: /ends 509 bytes before the end of an entry's padding/ },
    { name: "a pax header with no entry", archive: () => Buffer.concat([header({ name: "p", type: "x", size: 12 }), padded("12 path=abc\n")]), error: /extended header with no entry/ },
    { name: "a bad checksum", archive: () => header({ name: "a", checksum: "0001234\0" }), error: /bad header checksum \(stored 668, computed \d+\) \(header at byte 0\)/ },
    { name: "a non-octal size", archive: () => { const h = header({ name: "a" }); h.write("12x", 124); h.write("        ", 148); let s = 0; for (const c of h) s += c; h.write(`${s.toString(8).padStart(6, "0")}\0 `, 148); return h; }, error: /the size field "12x.*" is not an octal number/ },
    { name: "random bytes", archive: () => Buffer.from("this is not a tar archive at all ".repeat(20)), error: /not a valid tar/ },
    { name: "a malformed pax record", archive: () => Buffer.concat([header({ name: "p", type: "x", size: 11 }), padded("99 path=ab\n"), header({ name: "a" })]), error: /pax record at byte 0 of the extended header is malformed/ },
    { name: "a pax size that is not a number", archive: () => Buffer.concat([header({ name: "p", type: "x", size: 12 }), padded("12 size=-1x\n"), header({ name: "a" })]), error: /its pax size "-1x" is not a number/ },
    { name: "an oversized long name", archive: () => header({ name: "././@LongLink", type: "L", size: META_LIMIT + 1 }), error: /long-name record of 1048577 bytes is larger than 1048576/ },
  ])("refuses $name", ({ archive, error }) => {
    const bytes = archive();
    expect(() => read(bytes)).toThrow(error);
    // The same error whatever the pieces.
    expect(() => read(bytes, [1, Math.max(2, bytes.length >> 1)])).toThrow(error);
  });

  it("reports the offset of the bad header in the archive", () => {
    const bad = Buffer.concat([header({ name: "a", size: 3 }), padded("abc"), header({ name: "b", checksum: "0000001\0" })]);
    expect(() => read(bad, [700])).toThrow(/header at byte 1024/);
  });
});

describe("parsePax", () => {
  it.each([
    { input: "11 path=ab\n", expected: { path: "ab" } },
    { input: "12 a=b\nc=dd\n", expected: { a: "b\nc=dd" } },
    { input: "8 a=b=c\n6 k=v\n", expected: { a: "b=c", k: "v" } },
    { input: "8 path=\n", expected: { path: "" } },
    { input: "7 a=bc\n\0\0\0", expected: { a: "bc" } },
  ])("$input", ({ input, expected }) => {
    expect(parsePax(Buffer.from(input), 0)).toEqual(expected);
  });
});
