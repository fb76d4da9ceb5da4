// COPY/ADD planning against folders in a temp dir: Docker's destination
// rules, globs, .dockerignore, --exclude, --chmod, and the read digest
// (content, mode, path — not mtime).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planCopy, type CopyInput } from "../../../src/image/build/copy.js";
import { LayeredFs } from "../../../src/image/build/layered-fs.js";
import { ContextFs } from "../../../src/image/build/source-fs.js";
import { compileIgnore } from "../../../src/image/dockerignore.js";

let dir: string;
let ctx: string;
let image: LayeredFs;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-copy-"));
  ctx = join(dir, "ctx");
  for (const [p, c] of Object.entries({ "a.txt": "a", "b.txt": "b", "src/x.js": "x", "src/lib/y.js": "y", "src/skip.log": "l", "secret.key": "k" })) {
    mkdirSync(join(ctx, p, ".."), { recursive: true });
    writeFileSync(join(ctx, p), c);
  }
  symlinkSync("a.txt", join(ctx, "link"));
  const layer = join(dir, "layer");
  mkdirSync(join(layer, "usr/bin"), { recursive: true });
  mkdirSync(join(layer, "srv"), { mode: 0o750 });
  symlinkSync("usr/bin", join(layer, "bin"));
  image = new LayeredFs([layer]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const input = (over: Partial<CopyInput>): CopyInput => ({
  kind: "copy", sources: [], dest: "/", workdir: "/", heredocs: [], exclude: [], parents: false, from: new ContextFs(ctx, compileIgnore("*.key\n")), fromContext: true, image, unpackArchives: false, where: "Dockerfile:2", ...over,
});
const paths = (over: Partial<CopyInput>) => planCopy(input(over)).entries.map((e) => `${e.type[0]} ${e.path}`);

describe("planCopy", () => {
  it.each([
    { name: "file to a new path", over: { sources: ["a.txt"], dest: "/app/a2" }, expected: ["d app", "f app/a2"] },
    { name: "file into a folder (trailing /)", over: { sources: ["a.txt"], dest: "/app/" }, expected: ["d app", "f app/a.txt"] },
    { name: "file into an existing folder, parent metadata kept", over: { sources: ["a.txt"], dest: "/srv" }, expected: ["d srv", "f srv/a.txt"] },
    { name: "relative to WORKDIR", over: { sources: ["a.txt"], dest: "rel/", workdir: "/w" }, expected: ["d w", "d w/rel", "f w/rel/a.txt"] },
    { name: "a folder's content, not the folder", over: { sources: ["src"], dest: "/app" }, expected: ["d app", "d app/lib", "f app/lib/y.js", "f app/skip.log", "f app/x.js"] },
    { name: "--exclude", over: { sources: ["src"], dest: "/app", exclude: ["*.log"] }, expected: ["d app", "d app/lib", "f app/lib/y.js", "f app/x.js"] },
    { name: "globs, .dockerignore honoured", over: { sources: ["*.txt", "*.key"].slice(0, 1), dest: "/t/" }, expected: ["d t", "f t/a.txt", "f t/b.txt"] },
    { name: "through a symlinked folder of the image", over: { sources: ["a.txt"], dest: "/bin/" }, expected: ["d usr", "d usr/bin", "f usr/bin/a.txt"] },
    { name: "a symlink source is followed", over: { sources: ["link"], dest: "/l" }, expected: ["f l"] },
    { name: "--parents keeps the source path", over: { sources: ["src/lib/y.js"], dest: "/p/", parents: true }, expected: ["d p", "d p/src", "d p/src/lib", "f p/src/lib/y.js"] },
  ])("$name", ({ over, expected }) => {
    expect(paths(over as Partial<CopyInput>)).toEqual(expected);
  });

  it("keeps the existing folder's mode, applies --chmod and owners", () => {
    const plan = planCopy(input({ sources: ["a.txt"], dest: "/srv/", chmod: 0o600, chown: { uid: 5, gid: 6 } }));
    expect(plan.entries[0]).toMatchObject({ path: "srv", mode: 0o750, uid: 0 });
    expect(plan.entries[1]).toMatchObject({ path: "srv/a.txt", mode: 0o600, uid: 5, gid: 6 });
  });

  it("writes heredocs as files", () => {
    const plan = planCopy(input({ sources: ["<<EOF"], dest: "/etc/conf", heredocs: [{ name: "EOF", content: "x=1\n", expand: true, chomp: false }] as never }));
    expect(plan.entries.map((e) => [e.path, e.content?.toString()])).toEqual([["etc", undefined], ["etc/conf", "x=1\n"]]);
  });

  it.each([
    { name: "a missing source", over: { sources: ["nope.txt"] }, error: /Dockerfile:2: "nope.txt" not found in the build context/ },
    { name: "an ignored source", over: { sources: ["secret.key"] }, error: /"secret.key" not found in the build context/ },
    { name: "a glob matching nothing", over: { sources: ["*.none"] }, error: /matches nothing/ },
    { name: "several sources to a non-folder", over: { sources: ["a.txt", "b.txt"], dest: "/x" }, error: /destination must be a directory and end with a \// },
  ])("refuses $name", ({ over, error }) => {
    expect(() => planCopy(input(over))).toThrow(error);
  });

  it("keeps the content of small files read for the digest (the layer reads them once), not of large ones", () => {
    writeFileSync(join(ctx, "big.bin"), Buffer.alloc((256 << 10) + 1, 1));
    try {
      const plan = planCopy(input({ sources: ["a.txt", "big.bin"], dest: "/k/" }));
      const byPath = Object.fromEntries(plan.entries.map((e) => [e.path, e]));
      expect(byPath["k/a.txt"]!.content?.toString()).toBe("a");
      expect(byPath["k/big.bin"]!.content).toBeUndefined();
      expect(byPath["k/big.bin"]!.hostPath).toBe(join(ctx, "big.bin"));
    } finally {
      rmSync(join(ctx, "big.bin"));
    }
  });

  it("digests content, mode and path but not mtime", () => {
    const digest = () => planCopy(input({ sources: ["src"], dest: "/app" })).digest;
    const d0 = digest();
    utimesSync(join(ctx, "src/x.js"), new Date(1000), new Date(1000));
    expect(digest()).toBe(d0);
    chmodSync(join(ctx, "src/x.js"), 0o755);
    const d1 = digest();
    expect(d1).not.toBe(d0);
    writeFileSync(join(ctx, "src/x.js"), "changed");
    expect(digest()).not.toBe(d1);
  });
});
