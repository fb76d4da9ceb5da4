// A layer's folder written in the same pass as its tar: which entry lists may
// take that way (a table), and, as root, that the folder holds what the
// store's unpacker would make of the tar (modes, owners, mtimes, links).
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canWriteFolder, LayerFolderWriter } from "../../../src/image/build/layer-folder.js";
import { tarChunks, type LayerEntry } from "../../../src/image/build/layer-tar.js";
import { skipUnlessRoot } from "../../helpers/root.js";

const t = new Date("2023-05-06T07:08:09.900Z");
const dir = (path: string): LayerEntry => ({ path, type: "directory", mode: 0o755, uid: 0, gid: 0, mtime: t });
const file = (path: string): LayerEntry => ({ path, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: t, content: Buffer.from(path) });

describe("canWriteFolder", () => {
  it.each([
    { name: "folders, files, symlinks, a hard link to an earlier file", entries: [dir("a"), file("a/f"), { ...file("a/s"), type: "symlink" as const, linkname: "f" }, { ...file("a/h"), type: "link" as const, linkname: "a/f" }], expected: true },
    { name: "nothing", entries: [], expected: true },
    { name: "an entry whose folder is not in the layer", entries: [file("a/f")], expected: false },
    { name: "an entry below a symlink", entries: [{ ...file("a"), type: "symlink" as const, linkname: "/etc" }, file("a/passwd")], expected: false },
    { name: "an entry below a file", entries: [file("a"), file("a/b")], expected: false },
    { name: "the same path twice", entries: [file("f"), file("f")], expected: false },
    { name: "a whiteout name", entries: [file(".wh.gone")], expected: false },
    { name: "an opaque marker", entries: [dir("d"), file("d/.wh..wh..opq")], expected: false },
    { name: "a '..' part", entries: [dir("a"), file("a/../x")], expected: false },
    { name: "a hard link to nothing earlier", entries: [{ ...file("h"), type: "link" as const, linkname: "later" }, file("later")], expected: false },
    { name: "a device node", entries: [{ ...file("null"), type: "character-device" as const, devmajor: 1, devminor: 3 }], expected: false },
    { name: "a FIFO", entries: [{ ...file("p"), type: "fifo" as const }], expected: false },
  ])("$name → $expected", ({ entries, expected }) => {
    expect(canWriteFolder(entries)).toBe(expected);
  });
});

describe.skipIf(skipUnlessRoot("layer folder writes (owners)"))("LayerFolderWriter", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "stack-layer-folder-"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("writes the entries with their modes, owners and whole-second mtimes", () => {
    const src = join(root, "src.bin");
    writeFileSync(src, Buffer.alloc(3 << 20, 9));
    const entries: LayerEntry[] = [
      { ...dir("app"), mode: 0o2750, uid: 1000, gid: 1001 },
      { ...file("app/run"), mode: 0o4755, uid: 1000, gid: 1000 },
      { path: "app/big", type: "file", mode: 0o600, uid: 0, gid: 0, mtime: t, hostPath: src, size: 3 << 20 },
      { path: "app/link", type: "symlink", mode: 0o777, uid: 1000, gid: 1000, mtime: t, linkname: "run" },
      { path: "app/hard", type: "link", mode: 0o4755, uid: 1000, gid: 1000, mtime: t, linkname: "app/run" },
    ];
    expect(canWriteFolder(entries)).toBe(true);
    const out = join(root, "layer");
    mkdirSync(out);
    const writer = new LayerFolderWriter(out);
    [...tarChunks(entries, writer)];
    writer.finish();
    const seconds = Math.floor(t.getTime() / 1000) * 1000;
    const app = lstatSync(join(out, "app"));
    expect([app.mode & 0o7777, app.uid, app.gid, app.mtimeMs]).toEqual([0o2750, 1000, 1001, seconds]);
    const run = lstatSync(join(out, "app/run"));
    expect([run.mode & 0o7777, run.uid, run.gid, run.mtimeMs, run.nlink]).toEqual([0o4755, 1000, 1000, seconds, 2]);
    expect(readFileSync(join(out, "app/run"), "utf8")).toBe("app/run");
    expect(readFileSync(join(out, "app/big")).equals(readFileSync(src))).toBe(true);
    const link = lstatSync(join(out, "app/link"));
    expect([link.isSymbolicLink(), readlinkSync(join(out, "app/link")), link.uid, link.mtimeMs]).toEqual([true, "run", 1000, seconds]);
    expect(lstatSync(join(out, "app/hard")).ino).toBe(run.ino);
  });

  it("refuses an entry it cannot write (an internal error: canWriteFolder says no first)", () => {
    const out = join(root, "refuse");
    mkdirSync(out);
    const writer = new LayerFolderWriter(out);
    expect(() => writer.begin({ ...file("null"), type: "character-device" })).toThrow(/cannot be written into a layer folder \(null\)/);
    writer.close();
  });
});
