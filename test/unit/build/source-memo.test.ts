// Memos of what a COPY's plan observed in the context: confirmed only while
// every observation holds (a changed, added, removed, renamed or replaced
// entry, a chmod or chown, a path that appeared), never made from racy or
// unsettled observations, and a broken memo costs a plan, not correctness.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { planCopy } from "../../../src/image/build/copy.js";
import { LayeredFs } from "../../../src/image/build/layered-fs.js";
import { ContextFs } from "../../../src/image/build/source-fs.js";
import { lstatFieldsViaStats, type LstatFields } from "../../../src/image/build/lstat-fields.js";
import { SourceMemos, SourceObserver } from "../../../src/image/build/source-memo.js";
import { compileIgnore } from "../../../src/image/dockerignore.js";

let dir: string;
let ctx: string;
let memos: SourceMemos;
/** The reader of each run of the cases: this Node's choice (the fast one where it is allowed), then plain lstatSync. */
let reader: LstatFields | undefined;
const KEY = SourceMemos.key(["test-step"]);
/** Whole seconds an hour ago: a timestamp that can be put back exactly. */
const PAST = Math.floor(Date.now() / 1000) - 3600;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-memo-"));
  ctx = join(dir, "ctx");
  for (const [p, c] of Object.entries({ "app/a.txt": "a1", "app/b.txt": "b1", "app/sub/c.txt": "c1", "app/skip.log": "l", "other.txt": "o" })) {
    mkdirSync(join(ctx, p, ".."), { recursive: true });
    writeFileSync(join(ctx, p), c);
    utimesSync(join(ctx, p), PAST, PAST);
  }
  symlinkSync("a.txt", join(ctx, "app/link"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Plans `COPY sources dest` from the context with an observer; `startedAt` a minute ahead, so nothing is racy. */
function plan(sources: string[], options: { startedAt?: number; ignore?: string } = {}) {
  const fs = new ContextFs(ctx, options.ignore !== undefined ? compileIgnore(options.ignore) : undefined);
  const observer = new SourceObserver(options.startedAt ?? Date.now() + 60_000);
  fs.observer = observer;
  const digest = planCopy({ kind: "copy", sources, dest: "/dst/", workdir: "/", heredocs: [], exclude: [], parents: false, from: fs, fromContext: true, image: new LayeredFs([]), unpackArchives: false, where: "Dockerfile:2" }).digest;
  fs.observer = undefined;
  return { digest, observer };
}

function remember(sources: string[], options: { ignore?: string } = {}): string {
  const { digest, observer } = plan(sources, options);
  memos.save(KEY, ctx, digest, observer);
  return digest;
}

const later = () => new Promise((r) => setTimeout(r, 15)); // a new ctime tick for the changes below

describe.each([
  { readerName: "this Node's reader", read: undefined },
  { readerName: "lstatSync", read: lstatFieldsViaStats },
])("SourceMemos, with $readerName", ({ read }) => {
  beforeEach(() => {
    reader = read;
    memos = new SourceMemos(join(dir, "build-cache"), reader);
  });

  it("confirms a step whose observations all hold, with the digest it remembered", () => {
    const digest = remember(["app"]);
    expect(memos.check(KEY, ctx)).toBe(digest);
    // The same plan again gives that digest: the memo stands for it.
    expect(plan(["app"]).digest).toBe(digest);
  });

  it.each([
    { name: "content rewritten with the same size and its mtime put back (only the ctime tells)", change: (p: string) => {
      writeFileSync(p, "a2");
      utimesSync(p, PAST, PAST);
      expect(statSync(p).mtimeMs).toBe(PAST * 1000);
    } },
    { name: "chmod", change: (p: string) => chmodSync(p, 0o600) },
    { name: "the file removed", change: (p: string) => unlinkSync(p) },
    { name: "a file added beside it", change: (p: string) => writeFileSync(`${p}.new`, "n") },
    { name: "renamed within its folder", change: (p: string) => renameSync(p, `${p}.renamed`) },
    { name: "replaced by another file (other inode, same content and times)", change: (p: string) => {
      unlinkSync(p);
      writeFileSync(p, "a1");
      utimesSync(p, PAST, PAST);
    } },
    { name: "the symlink pointed elsewhere", change: () => {
      unlinkSync(join(ctx, "app/link"));
      symlinkSync("b.txt", join(ctx, "app/link"));
    } },
  ])("a change invalidates the memo: $name", async ({ change }) => {
    remember(["app"]);
    expect(memos.check(KEY, ctx)).toBeDefined();
    await later();
    change(join(ctx, "app/a.txt"));
    expect(memos.check(KEY, ctx)).toBeUndefined();
  });

  it.skipIf(process.getuid?.() !== 0)("a chown invalidates the memo (root)", async () => {
    remember(["app"]);
    await later();
    chownSync(join(ctx, "app/sub/c.txt"), 1234, 1234);
    expect(memos.check(KEY, ctx)).toBeUndefined();
  });

  it("a change in a subfolder invalidates it too", async () => {
    remember(["app"]);
    await later();
    writeFileSync(join(ctx, "app/sub/d.txt"), "d");
    expect(memos.check(KEY, ctx)).toBeUndefined();
  });

  it("a change outside what the step read keeps it", async () => {
    const digest = remember(["app"]);
    await later();
    writeFileSync(join(ctx, "other.txt"), "changed");
    writeFileSync(join(ctx, "new-at-the-top.txt"), "n");
    expect(memos.check(KEY, ctx)).toBe(digest);
  });

  it("a path the plan saw absent that now exists invalidates it (a glob's match, a source through a symlink)", async () => {
    remember(["app/*.txt"]);
    await later();
    writeFileSync(join(ctx, "app/z.txt"), "z");
    expect(memos.check(KEY, ctx)).toBeUndefined();
  });

  it("an entry the .dockerignore hides is still observed: its change invalidates the memo (the rules are in the step's key)", async () => {
    remember(["app"], { ignore: "app/skip.log\n" });
    await later();
    writeFileSync(join(ctx, "app/skip.log"), "longer now");
    expect(memos.check(KEY, ctx)).toBeUndefined();
  });

  it("is not made from racy observations (timestamps within RACY_MS of the plan)", () => {
    const { digest, observer } = plan(["app"], { startedAt: Date.now() });
    memos.save(KEY, ctx, digest, observer);
    expect(existsSync(join(dir, "build-cache", "sources"))).toBe(false);
    expect(memos.check(KEY, ctx)).toBeUndefined();
  });

  it("is not made when one path was seen with two different stats during the plan", () => {
    const fs = new ContextFs(ctx);
    const observer = new SourceObserver(Date.now() + 60_000);
    fs.observer = observer;
    fs.children("app");
    chmodSync(join(ctx, "app/b.txt"), 0o600);
    fs.children("app");
    memos.save(KEY, ctx, "digest", observer);
    expect(existsSync(join(dir, "build-cache", "sources"))).toBe(false);
  });

  it("a memo of another root, of another format or unreadable is no memo", () => {
    remember(["app"]);
    expect(memos.check(KEY, join(dir, "elsewhere"))).toBeUndefined();
    const file = join(dir, "build-cache", "sources", readdirSync(join(dir, "build-cache", "sources"))[0]!);
    const good = readFileSync(file, "utf8");
    const memo = JSON.parse(good) as { stats: string };
    // Stats for one path fewer than the memo names: damaged.
    writeFileSync(file, JSON.stringify({ ...memo, stats: Buffer.from(memo.stats, "base64").subarray(48).toString("base64") }));
    expect(memos.check(KEY, ctx)).toBeUndefined();
    writeFileSync(file, "{not json");
    expect(memos.check(KEY, ctx)).toBeUndefined();
    // The first format (stats as JSON numbers), as session 4 wrote it.
    writeFileSync(file, JSON.stringify({ version: 1, root: ctx, digest: "d", paths: "app", stats: [0, 0, 0, 0, 0, 0], dirs: [] }));
    expect(memos.check(KEY, ctx)).toBeUndefined();
    writeFileSync(file, good);
    expect(memos.check(KEY, ctx)).toBeDefined();
    expect(memos.check(SourceMemos.key(["another step"]), ctx)).toBeUndefined();
  });

  it("a memo with a NUL in a path is damaged (the system call would see the path cut short)", () => {
    remember(["app"]);
    const file = join(dir, "build-cache", "sources", readdirSync(join(dir, "build-cache", "sources"))[0]!);
    const memo = JSON.parse(readFileSync(file, "utf8")) as { paths: string };
    expect(memo.paths.split("\n")).toContain("app/a.txt");
    writeFileSync(file, JSON.stringify({ ...memo, paths: memo.paths.replace("app/a.txt", "app/a.txt\0gone") }));
    expect(memos.check(KEY, ctx)).toBeUndefined();
  });

  it("a memo that cannot be written costs only a plan", () => {
    writeFileSync(join(dir, "not-a-folder"), "");
    const broken = new SourceMemos(join(dir, "not-a-folder"), reader);
    const { digest, observer } = plan(["app"]);
    expect(() => broken.save(KEY, ctx, digest, observer)).not.toThrow();
    expect(broken.check(KEY, ctx)).toBeUndefined();
  });
});
