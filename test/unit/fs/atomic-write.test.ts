// writeFileAtomic: the content is replaced whole, with the mode asked for and
// no temporary file left, durable or not.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { readJson, syncFile, writeFileAtomic, writeJsonAtomic } from "../../../src/fs/atomic-write.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "stack-atomic-"));
  dirs.push(d);
  return d;
};

test.each([true, false])("durable %s: replaces the content, makes missing folders, leaves no temporary file", (durable) => {
  const dir = fresh();
  const file = join(dir, "a", "b", "state.json");
  writeFileAtomic(file, "first\n", 0o600, { durable });
  writeFileAtomic(file, "second\n", 0o600, { durable });
  expect(readFileSync(file, "utf8")).toBe("second\n");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readdirSync(join(dir, "a", "b"))).toEqual(["state.json"]);
});

test("writeJsonAtomic and readJson round-trip; a missing file gives the fallback", () => {
  const file = join(fresh(), "x.json");
  expect(readJson(file, { none: true })).toEqual({ none: true });
  writeJsonAtomic(file, { a: [1, 2] }, { durable: false });
  expect(readJson(file, {})).toEqual({ a: [1, 2] });
});

test("fresh: a new file is written in place (no temporary file, no rename); one already there is replaced whole", () => {
  const dir = fresh();
  const file = join(dir, "hosts");
  const inode = (p: string) => statSync(p).ino;
  writeFileAtomic(file, "new\n", 0o640, { durable: false, fresh: true });
  expect(readFileSync(file, "utf8")).toBe("new\n");
  expect(statSync(file).mode & 0o777).toBe(0o640);
  const first = inode(file);
  // A crashed attempt's file: replaced by a rename (another inode), as without the option.
  writeFileAtomic(file, "again\n", 0o640, { durable: false, fresh: true });
  expect(readFileSync(file, "utf8")).toBe("again\n");
  expect(inode(file)).not.toBe(first);
  expect(readdirSync(dir)).toEqual(["hosts"]);
});

test("fresh: in a folder that does not exist, the error is the open's (no folder is made for it)", () => {
  expect(() => writeFileAtomic(join(fresh(), "gone", "hosts"), "x", 0o644, { durable: false, fresh: true })).toThrow(/ENOENT/);
});

test("syncFile: a file written without fsync is synced as it is (same content, same inode); a missing one is an error", () => {
  const dir = fresh();
  const file = join(dir, "state.json");
  writeFileAtomic(file, "{}\n", 0o644, { durable: false });
  const inode = statSync(file).ino;
  syncFile(file);
  expect(readFileSync(file, "utf8")).toBe("{}\n");
  expect(statSync(file).ino).toBe(inode);
  expect(() => syncFile(join(dir, "gone.json"))).toThrow(/ENOENT/);
});
