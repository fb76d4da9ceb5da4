// The lstat fields a source memo compares: the fast reader (Node's fs
// binding) gives exactly what lstatSync gives, and it is taken only when the
// checks hold — on any doubt, lstatSync, without touching the binding when
// its calling convention is not the one expected.
import { spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseLstatFields, LSTAT_FIELDS, lstatFields, lstatFieldsViaStats, nodeHost, type LstatFieldsHost } from "../../../src/image/build/lstat-fields.js";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-lstat-fields-"));
  mkdirSync(join(dir, "folder"));
  writeFileSync(join(dir, "file"), "content");
  // Sub-millisecond parts, so the time conversion has to be Node's exactly.
  utimesSync(join(dir, "file"), 1_700_000_000.123456, 1_700_000_123.987654);
  writeFileSync(join(dir, "empty"), "");
  symlinkSync("file", join(dir, "link"));
  symlinkSync("nowhere", join(dir, "dangling"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fields = (read: (p: string, out: Float64Array) => boolean, path: string) => {
  const out = new Float64Array(LSTAT_FIELDS);
  return read(path, out) ? [...out] : undefined;
};

/** This Node's lstatSync calls the binding the way the fast reader does. */
const nodeMatches = () => chooseLstatFields(dir) !== lstatFieldsViaStats;

describe("lstatFields (the process's choice)", () => {
  // The first calls of this file: the choice is still open.
  it("is not decided by a probe that does not exist, then is decided once", () => {
    expect(lstatFields(join(dir, "missing"))).toBe(lstatFieldsViaStats);
    const chosen = lstatFields(dir);
    expect(chosen === lstatFieldsViaStats).toBe(!nodeMatches());
    expect(lstatFields(join(dir, "missing"))).toBe(chosen);
  });
});

describe("lstatFieldsViaStats", () => {
  it("gives dev, ino, mode, size, mtimeMs, ctimeMs of the entry itself (a symlink is not followed)", () => {
    for (const name of ["file", "link", "folder"]) {
      const st = lstatSync(join(dir, name));
      expect(fields(lstatFieldsViaStats, join(dir, name))).toEqual([st.dev, st.ino, st.mode, st.size, st.mtimeMs, st.ctimeMs]);
    }
  });
});

describe("the reader chosen on this Node", () => {
  it.each([
    { name: "a regular file with sub-millisecond times", path: "file" },
    { name: "an empty file", path: "empty" },
    { name: "a folder", path: "folder" },
    { name: "a symlink", path: "link" },
    { name: "a dangling symlink", path: "dangling" },
    { name: "a missing entry", path: "missing" },
    { name: "an entry below a missing folder", path: "missing/below" },
  ])("agrees with lstatSync: $name", ({ path }) => {
    const read = chooseLstatFields(dir);
    expect(fields(read, join(dir, path))).toEqual(fields(lstatFieldsViaStats, join(dir, path)));
  });

  it("throws what lstatSync throws for other errors (ENOTDIR)", () => {
    const read = chooseLstatFields(dir);
    expect(() => read(join(dir, "file", "below"), new Float64Array(LSTAT_FIELDS))).toThrow(expect.objectContaining({ code: "ENOTDIR" }));
  });

  it("is the fast one exactly when this Node's lstatSync has the expected shape", () => {
    const source = nodeHost.lstatSyncSource();
    const expected = /binding\.lstat\(\s*pathModule\.toNamespacedPath\(path\),\s*options\.bigint,\s*undefined,\s*options\.throwIfNoEntry,?\s*\)/.test(source) && !nodeHost.permissionModel();
    expect(nodeMatches()).toBe(expected);
  });
});

describe("chooseLstatFields falls back to lstatSync", () => {
  /** This Node, with one part replaced; records whether the binding was asked for. */
  const host = (over: Partial<LstatFieldsHost>) => {
    const calls = { binding: 0 };
    const h: LstatFieldsHost = {
      fsBinding: () => {
        calls.binding++;
        return (over.fsBinding ?? nodeHost.fsBinding)();
      },
      lstatSyncSource: over.lstatSyncSource ?? nodeHost.lstatSyncSource,
      permissionModel: over.permissionModel ?? nodeHost.permissionModel,
    };
    return { h, calls };
  };
  const realBinding = () => nodeHost.fsBinding() as { lstat: (...a: unknown[]) => Float64Array | undefined };
  /** An older Node 20: the binding takes a context object, and the wrong arguments would abort the process. */
  const olderSource = `function lstatSync(path, options = { bigint: false, throwIfNoEntry: true }) {
  path = getValidatedPath(path);
  const ctx = { path };
  const stats = binding.lstat(pathModule.toNamespacedPath(path), options.bigint, undefined, ctx);
  if (options.throwIfNoEntry === false && stats === undefined) return undefined;
  handleErrorFromBinding(ctx);
  return getStatsFromBinding(stats);
}`;

  it.each([
    { name: "when the permission model is on", over: { permissionModel: () => true }, asksBinding: false },
    { name: "when lstatSync calls the binding another way (an older Node 20), without asking for it", over: { lstatSyncSource: () => olderSource }, asksBinding: false },
    { name: "when lstatSync's source cannot be read (a native function)", over: { lstatSyncSource: () => "function lstatSync() { [native code] }" }, asksBinding: false },
    { name: "when there is no fs binding", over: { fsBinding: () => { throw new Error("No such module: fs"); } }, asksBinding: true },
    { name: "when the binding has no lstat", over: { fsBinding: () => ({}) }, asksBinding: true },
    { name: "when the binding's array has another layout", over: { fsBinding: () => ({ lstat: (...a: unknown[]) => realBinding().lstat(...a)?.slice(1) }) }, asksBinding: true },
    { name: "when the binding's times are in other units", over: { fsBinding: () => ({ lstat: (...a: unknown[]) => realBinding().lstat(...a)?.map((v, i) => (i === 13 || i === 15 ? 0 : v)) }) }, asksBinding: true },
  ])("$name", ({ over, asksBinding }) => {
    const { h, calls } = host(over as Partial<LstatFieldsHost>);
    // On this Node the checks hold otherwise (the test above), so it is the replaced part that decides.
    if (!nodeMatches()) return expect(chooseLstatFields(dir, h)).toBe(lstatFieldsViaStats);
    expect(chooseLstatFields(dir, h)).toBe(lstatFieldsViaStats);
    expect(calls.binding > 0).toBe(asksBinding);
  });

  it("when the probe does not exist", () => {
    expect(chooseLstatFields(join(dir, "missing"))).toBe(lstatFieldsViaStats);
  });

  it("asking for the binding prints no deprecation warning, even under --pending-deprecation (a child node, on the built module)", () => {
    const built = fileURLToPath(new URL("../../../dist/image/build/lstat-fields.js", import.meta.url));
    const script = `import(${JSON.stringify(pathToFileURL(built).href)}).then((m) => {
      const before = process.noDeprecation;
      const fast = m.chooseLstatFields(${JSON.stringify(dir)}) !== m.lstatFieldsViaStats;
      setImmediate(() => console.log(JSON.stringify({ fast, restored: process.noDeprecation === before })));
    })`;
    const child = spawnSync(process.execPath, ["--pending-deprecation", "-e", script], { encoding: "utf8" });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stderr).toBe("");
    expect(JSON.parse(child.stdout)).toEqual({ fast: nodeMatches(), restored: true });
  });
});
