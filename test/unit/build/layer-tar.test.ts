// The hand-encoded layer tar, read back by tar-stream (the store's reader)
// and by GNU tar: ustar fields, the prefix split, pax records for what ustar
// cannot hold, base-256 numbers, large files in pieces, a file that shrank, and the sink that
// sees every entry as it is written.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError } from "../../../src/errors.js";
import { layerTar, tarChunks, type LayerEntry } from "../../../src/image/build/layer-tar.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-layer-tar-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const when = new Date("2024-03-01T12:00:00.750Z");
const base = { mode: 0o644, uid: 0, gid: 0, mtime: when };

async function readBack(entries: LayerEntry[]): Promise<Array<{ header: tar.Header; content: Buffer }>> {
  const out: Array<{ header: tar.Header; content: Buffer }> = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c) => chunks.push(c as Buffer));
      stream.on("end", () => {
        out.push({ header, content: Buffer.concat(chunks) });
        next();
      });
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  layerTar(entries).pipe(extract);
  await done;
  return out;
}

describe("layerTar", () => {
  const longDir = `${"d".repeat(90)}/${"e".repeat(60)}`;
  const table: Array<{ name: string; entry: LayerEntry; expected: Partial<tar.Header>; content?: string }> = [
    { name: "a file given as content", entry: { ...base, path: "etc/app.conf", type: "file", content: Buffer.from("k=v\n") }, expected: { name: "etc/app.conf", type: "file", size: 4, mode: 0o644 }, content: "k=v\n" },
    { name: "a folder (trailing slash), setgid and sticky kept", entry: { ...base, path: "srv/data", type: "directory", mode: 0o3775, uid: 1000, gid: 1001 }, expected: { name: "srv/data/", type: "directory", mode: 0o3775, uid: 1000, gid: 1001 } },
    { name: "a setuid file", entry: { ...base, path: "bin/su", type: "file", mode: 0o4755, content: Buffer.alloc(0) }, expected: { type: "file", mode: 0o4755, size: 0 } },
    { name: "a symlink", entry: { ...base, path: "bin/sh", type: "symlink", mode: 0o777, linkname: "busybox" }, expected: { type: "symlink", linkname: "busybox" } },
    { name: "a hard link", entry: { ...base, path: "bin/hard", type: "link", linkname: "bin/su" }, expected: { type: "link", linkname: "bin/su" } },
    { name: "a character device", entry: { ...base, path: "dev/null", type: "character-device", mode: 0o666, devmajor: 1, devminor: 3 }, expected: { type: "character-device", devmajor: 1, devminor: 3 } },
    { name: "a FIFO", entry: { ...base, path: "run/pipe", type: "fifo" }, expected: { type: "fifo" } },
    { name: "a 151-byte path (ustar prefix)", entry: { ...base, path: `${longDir}/f`, type: "file", content: Buffer.from("x") }, expected: { name: `${longDir}/f` }, content: "x" },
    { name: "a 300-byte path (pax path)", entry: { ...base, path: `${"p".repeat(150)}/${"q".repeat(149)}`, type: "file", content: Buffer.from("y") }, expected: { name: `${"p".repeat(150)}/${"q".repeat(149)}` }, content: "y" },
    { name: "a name of 120 bytes without a slash (pax path)", entry: { ...base, path: "n".repeat(120), type: "file", content: Buffer.alloc(0) }, expected: { name: "n".repeat(120) } },
    { name: "a long symlink target (pax linkpath)", entry: { ...base, path: "l", type: "symlink", mode: 0o777, linkname: `/${"t".repeat(140)}` }, expected: { linkname: `/${"t".repeat(140)}` } },
    { name: "ids beyond ustar's 7 octal digits (base-256)", entry: { ...base, path: "big-ids", type: "file", uid: 3_000_000, gid: 4_000_000, content: Buffer.alloc(0) }, expected: { uid: 3_000_000, gid: 4_000_000 } },
    { name: "a UTF-8 name", entry: { ...base, path: "données/été.txt", type: "file", content: Buffer.from("é") }, expected: { name: "données/été.txt", size: 2 }, content: "é" },
  ];

  it.each(table)("$name", async ({ entry, expected, content }) => {
    const [got] = await readBack([entry]);
    expect(got!.header).toMatchObject(expected);
    // Whole seconds, as tar keeps them.
    expect(got!.header.mtime?.getTime()).toBe(Math.floor(when.getTime() / 1000) * 1000);
    if (content !== undefined) expect(got!.content.toString()).toBe(content);
  });

  it("GNU tar lists what tar-stream reads", () => {
    const entries = table.map((t) => t.entry);
    const file = join(dir, "all.tar");
    writeFileSync(file, Buffer.concat([...tarChunks(entries)]));
    const listed = execFileSync("tar", ["-tf", file], { encoding: "utf8" }).trim().split("\n");
    expect(listed).toEqual(entries.map((e) => (e.type === "directory" ? `${e.path}/` : e.path)));
  });

  it("reads files from the host, a large one in pieces, and batches the output", async () => {
    const small = join(dir, "small");
    const large = join(dir, "large");
    writeFileSync(small, "small\n");
    const big = Buffer.alloc(2.5 * (1 << 20));
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    writeFileSync(large, big);
    const entries: LayerEntry[] = [
      { ...base, path: "small", type: "file", hostPath: small, size: 6 },
      { ...base, path: "large", type: "file", hostPath: large, size: big.length },
    ];
    const chunks = [...tarChunks(entries)];
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).length % 512).toBe(0);
    const got = await readBack(entries);
    expect(got.map((g) => g.content.length)).toEqual([6, big.length]);
    expect(got[1]!.content.equals(big)).toBe(true);
  });

  it("a large file that became shorter than planned is a ConflictError naming it", () => {
    const p = join(dir, "shrinks");
    writeFileSync(p, Buffer.alloc(2 << 20, 1));
    const entries: LayerEntry[] = [{ ...base, path: "shrinks", type: "file", hostPath: p, size: 2 << 20 }];
    truncateSync(p, 1 << 20);
    let error: unknown;
    try {
      [...tarChunks(entries)];
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toContain(`${p} became shorter (1048576 of 2097152 bytes)`);
  });

  it("the sink sees every entry and its content in order", () => {
    const seen: string[] = [];
    const sink = { begin: (e: LayerEntry) => seen.push(`begin ${e.path}`), data: (b: Buffer) => seen.push(`data ${b.toString()}`), end: (e: LayerEntry) => seen.push(`end ${e.path}`) };
    [...tarChunks([{ ...base, path: "d", type: "directory" }, { ...base, path: "d/f", type: "file", content: Buffer.from("hi") }], sink)];
    expect(seen).toEqual(["begin d", "end d", "begin d/f", "data hi", "end d/f"]);
  });
});
