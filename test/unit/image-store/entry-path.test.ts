import { describe, expect, it } from "vitest";
import { entryPath, hardLinkTarget, parentPaths, whiteoutOf } from "../../../src/image/tar/entry-path.js";

describe("entryPath", () => {
  it.each([
    { input: "a/b/c", expected: "a/b/c" },
    { input: "./a/b/", expected: "a/b" },
    { input: "/etc/passwd", expected: "etc/passwd" },
    { input: "//a//./b", expected: "a/b" },
    { input: "./", expected: "" },
    { input: ".", expected: "" },
    { input: "..a/b..", expected: "..a/b.." },
  ])("$input → $expected", ({ input, expected }) => {
    expect(entryPath(input)).toBe(expected);
  });

  it.each([
    { input: "..", error: /a "\.\." component/ },
    { input: "../x", error: /a "\.\." component/ },
    { input: "a/../b", error: /a "\.\." component/ },
    { input: "/../../etc", error: /a "\.\." component/ },
    { input: "a\0b", error: /NUL byte/ },
  ])("refuses $input", ({ input, error }) => {
    expect(() => entryPath(input)).toThrow(error);
  });
});

describe("hardLinkTarget", () => {
  it.each([
    { link: "usr/bin/x", expected: "usr/bin/x" },
    { link: "/usr/bin/x", expected: "usr/bin/x" },
    { link: "./x", expected: "x" },
  ])("$link", ({ link, expected }) => expect(hardLinkTarget("e", link)).toBe(expected));

  it.each([
    { link: "../x", error: /hard link target "\.\.\/x" has a "\.\." component/ },
    { link: "/", error: /cannot point at the layer root/ },
    { link: "", error: /cannot point at the layer root/ },
  ])("refuses $link", ({ link, error }) => expect(() => hardLinkTarget("e", link)).toThrow(error));
});

describe("parentPaths", () => {
  it.each([
    { input: "a", expected: [] },
    { input: "a/b", expected: ["a"] },
    { input: "a/b/c", expected: ["a", "a/b"] },
  ])("$input", ({ input, expected }) => expect(parentPaths(input)).toEqual(expected));
});

describe("whiteoutOf", () => {
  it.each([
    { input: "a/b", expected: { kind: "none" } },
    { input: ".whx", expected: { kind: "none" } },
    { input: ".wh.x", expected: { kind: "whiteout", target: "x" } },
    { input: "a/b/.wh.c", expected: { kind: "whiteout", target: "a/b/c" } },
    { input: "a/.wh..wh..opq", expected: { kind: "opaque", dir: "a" } },
    { input: ".wh..wh..opq", expected: { kind: "opaque", dir: "" } },
    { input: ".wh..wh.plnk/123", expected: { kind: "ignored" } },
    { input: "a/.wh..wh.aufs", expected: { kind: "ignored" } },
  ])("$input", ({ input, expected }) => expect(whiteoutOf(input)).toEqual(expected));

  it.each([".wh.", "a/.wh..", "a/.wh.."])("refuses %s", (input) => expect(() => whiteoutOf(input)).toThrow(/names no file/));
});
