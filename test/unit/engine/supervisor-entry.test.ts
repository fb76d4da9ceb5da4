// Which supervisor entry a command starts: the bundle when it is as new as tsc's output.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { supervisorEntry } from "../../../src/engine/supervisor-entry.js";

let dist: string;
beforeEach(() => {
  dist = mkdtempSync(join(tmpdir(), "stack-sup-entry-"));
  mkdirSync(join(dist, "supervisor"));
});
afterEach(() => rmSync(dist, { recursive: true, force: true }));

const tsc = () => join(dist, "supervisor", "main.js");
const bundle = () => join(dist, "bundle-supervisor", "main.js");
const write = (path: string, secondsAgo: number) => {
  writeFileSync(path, "");
  const t = Date.now() / 1000 - secondsAgo;
  utimesSync(path, t, t);
};

test("without a bundle: what tsc emitted", () => {
  write(tsc(), 0);
  expect(supervisorEntry(dist, {})).toBe(tsc());
});

test("a bundle at least as new as tsc's output is started; an older one (tsc ran since) is not; STACK_NO_BUNDLE=1 opts out", () => {
  mkdirSync(join(dist, "bundle-supervisor"));
  write(tsc(), 10);
  write(bundle(), 5);
  expect(supervisorEntry(dist, {})).toBe(bundle());
  expect(supervisorEntry(dist, { STACK_NO_BUNDLE: "1" })).toBe(tsc());
  write(tsc(), 0);
  expect(supervisorEntry(dist, {})).toBe(tsc());
});
