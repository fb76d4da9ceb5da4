// readLayeredFile: a file of the image as the overlay of its layers would
// show it, read from the layer folders (whiteouts, hiding non-directories,
// opaque directories it cannot see).
import type { Stats } from "node:fs";
import { describe, expect, test } from "vitest";
import { readLayeredFile, type LayerFs, type LayeredFile } from "../../../src/runtime/image-files.js";

type Node = "dir" | "whiteout" | "symlink" | "fifo" | { text: string };

/** A layer tree as path → node; every parent of a listed path is a directory. */
function fakeFs(tree: Record<string, Node>): LayerFs & { reads: string[] } {
  const reads: string[] = [];
  const kind = (p: string): Node | undefined => tree[p] ?? (Object.keys(tree).some((k) => k.startsWith(`${p}/`)) ? "dir" : undefined);
  return {
    reads,
    lstat(p) {
      const n = kind(p);
      if (n === undefined) return undefined;
      return {
        isDirectory: () => n === "dir",
        isFile: () => typeof n === "object",
        isSymbolicLink: () => n === "symlink",
        isCharacterDevice: () => n === "whiteout",
        rdev: 0,
      } as unknown as Stats;
    },
    readText(p) {
      reads.push(p);
      const n = tree[p];
      if (typeof n !== "object") throw new Error(`not a file: ${p}`);
      return n.text;
    },
  };
}

const cases: Array<{ name: string; layers: string[]; tree: Record<string, Node>; expected: LayeredFile }> = [
  { name: "one layer with the file", layers: ["/l/a"], tree: { "/l/a/etc/passwd": { text: "root" } }, expected: { kind: "file", text: "root" } },
  { name: "one layer without it, /etc there", layers: ["/l/a"], tree: { "/l/a/etc/hosts": { text: "" } }, expected: { kind: "absent" } },
  { name: "one layer without /etc", layers: ["/l/a"], tree: { "/l/a/bin/sh": { text: "" } }, expected: { kind: "absent" } },
  { name: "the top-most copy wins", layers: ["/l/b", "/l/a"], tree: { "/l/b/etc/passwd": { text: "new" }, "/l/a/etc/passwd": { text: "old" } }, expected: { kind: "file", text: "new" } },
  { name: "a layer without /etc says nothing", layers: ["/l/b", "/l/a"], tree: { "/l/b/usr/bin/x": { text: "" }, "/l/a/etc/passwd": { text: "base" } }, expected: { kind: "file", text: "base" } },
  { name: "a whiteout of the file", layers: ["/l/b", "/l/a"], tree: { "/l/b/etc/passwd": "whiteout", "/l/a/etc/passwd": { text: "base" } }, expected: { kind: "absent" } },
  { name: "a whiteout of /etc", layers: ["/l/b", "/l/a"], tree: { "/l/b/etc": "whiteout", "/l/a/etc/passwd": { text: "base" } }, expected: { kind: "absent" } },
  { name: "a file where /etc was", layers: ["/l/b", "/l/a"], tree: { "/l/b/etc": { text: "" }, "/l/a/etc/passwd": { text: "base" } }, expected: { kind: "absent" } },
  {
    name: "an /etc above the file may be opaque",
    layers: ["/l/b", "/l/a"],
    tree: { "/l/b/etc/nginx.conf": { text: "" }, "/l/a/etc/passwd": { text: "base" } },
    expected: { kind: "unknown", why: "/l/b/etc may be an opaque directory" },
  },
  { name: "an /etc above matters not when no layer has the file", layers: ["/l/b", "/l/a"], tree: { "/l/b/etc/nginx.conf": { text: "" }, "/l/a/etc/hosts": { text: "" } }, expected: { kind: "absent" } },
  { name: "a symlinked /etc", layers: ["/l/a"], tree: { "/l/a/etc": "symlink" }, expected: { kind: "unknown", why: "/l/a/etc is a symbolic link" } },
  { name: "a symlinked file", layers: ["/l/a"], tree: { "/l/a/etc/passwd": "symlink" }, expected: { kind: "unknown", why: "/l/a/etc/passwd is a symbolic link" } },
  { name: "not a regular file", layers: ["/l/a"], tree: { "/l/a/etc/passwd": "fifo" }, expected: { kind: "absent" } },
  { name: "a directory named like the file", layers: ["/l/a"], tree: { "/l/a/etc/passwd/x": { text: "" } }, expected: { kind: "absent" } },
  { name: "no layers", layers: [], tree: {}, expected: { kind: "absent" } },
];

describe("readLayeredFile", () => {
  for (const c of cases) {
    test(c.name, () => {
      expect(readLayeredFile(c.layers, "etc/passwd", fakeFs(c.tree))).toEqual(c.expected);
    });
  }

  test("paths that climb out are not read", () => {
    const fs = fakeFs({ "/l/a/etc/passwd": { text: "root" } });
    expect(readLayeredFile(["/l/a"], "../a/etc/passwd", fs)).toEqual({ kind: "unknown", why: '"../a/etc/passwd" is not a plain path' });
    expect(readLayeredFile(["/l/a"], "/", fs).kind).toBe("unknown");
    expect(fs.reads).toEqual([]);
  });

  test("only the winning copy is read", () => {
    const fs = fakeFs({ "/l/c/etc/passwd": { text: "top" }, "/l/b/etc/passwd": { text: "mid" }, "/l/a/etc/passwd": { text: "base" } });
    readLayeredFile(["/l/c", "/l/b", "/l/a"], "etc/passwd", fs);
    expect(fs.reads).toEqual(["/l/c/etc/passwd"]);
  });
});
