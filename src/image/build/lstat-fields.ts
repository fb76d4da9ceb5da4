// The six numbers a source memo compares per path — dev, ino, mode, size,
// mtimeMs, ctimeMs — read without building an fs.Stats.
//
// Why: a fully cached build confirms a COPY's memo with one lstat per context
// entry (2,021 for bench/build), in a fresh process where that code is cold.
// Node 20's lstatSync turns each result into a Stats object with four Dates:
// on bench/build that was more than half of the loop's time, and the garbage
// behind three young-generation collections of a ~7 MB heap.
//
// Node's fs binding writes each lstat into one shared Float64Array, from
// which lstatSync builds the Stats; `process.binding("fs")` hands that
// binding out. Its calling convention is internal (it changed within Node
// 20: older releases take a context object where newer ones take the
// throwIfNoEntry flag, and a native assertion aborts the process on the wrong
// one), so the fast path is taken only when:
// - this Node's own lstatSync calls the binding exactly as the fast path
//   does (checked on its source, as Function.prototype.toString gives it);
// - for a probe path, both give the same six numbers;
// - the permission model is off (the binding would bypass it).
// Otherwise every call goes through lstatSync: same answers, slower.
import { lstatSync } from "node:fs";

/** Numbers per path, in this order: dev, ino, mode, size, mtimeMs, ctimeMs. */
export const LSTAT_FIELDS = 6;

/**
 * Writes the fields of `lstat(path)` into `out[0..5]`. False when the path
 * does not exist (ENOENT); throws what lstatSync throws otherwise (ENOTDIR,
 * EACCES, …). `out` is only written when the result is true.
 */
export type LstatFields = (path: string, out: Float64Array) => boolean;

const NO_THROW = { throwIfNoEntry: false } as const;

/** The portable reader: lstatSync, one Stats per call. */
export function lstatFieldsViaStats(path: string, out: Float64Array): boolean {
  const st = lstatSync(path, NO_THROW);
  if (st === undefined) return false;
  out[0] = st.dev;
  out[1] = st.ino;
  out[2] = st.mode;
  out[3] = st.size;
  out[4] = st.mtimeMs;
  out[5] = st.ctimeMs;
  return true;
}

interface FsBinding {
  lstat(path: string, bigint: boolean, req: undefined, throwIfNoEntry: boolean): Float64Array | undefined;
}

/** What the choice depends on, injectable so tests can play another Node. */
export interface LstatFieldsHost {
  /** Node's fs binding (throws or returns something else where there is none). */
  fsBinding(): unknown;
  /** The source text of this Node's fs.lstatSync. */
  lstatSyncSource(): string;
  /** Whether Node's permission model is on (--experimental-permission, --permission). */
  permissionModel(): boolean;
}

/** `binding.lstat(pathModule.toNamespacedPath(path), options.bigint, undefined, options.throwIfNoEntry)`, then the Stats from its array. */
const EXPECTED_CALL = /binding\.lstat\(\s*pathModule\.toNamespacedPath\(path\),\s*options\.bigint,\s*undefined,\s*options\.throwIfNoEntry,?\s*\)/;
const EXPECTED_RESULT = /return getStatsFromBinding\(stats\);/;

export const nodeHost: LstatFieldsHost = {
  fsBinding() {
    // Asked with deprecation warnings silenced: the use is deliberate and checked below,
    // and a user's --pending-deprecation is about their own code.
    const quiet = process.noDeprecation;
    process.noDeprecation = true;
    try {
      return (process as unknown as { binding(name: string): unknown }).binding("fs");
    } finally {
      process.noDeprecation = quiet;
    }
  },
  lstatSyncSource: () => Function.prototype.toString.call(lstatSync),
  permissionModel: () => Boolean((process as { permission?: unknown }).permission),
};

/** The binding's array → our six fields; the times as Node's msFromTimeSpec computes them (sec * 1e3 + nsec / 1e6). */
function fromBinding(binding: FsBinding): LstatFields {
  return (path, out) => {
    const a = binding.lstat(path, false, undefined, false);
    if (a === undefined) return false;
    out[0] = a[0]!;
    out[1] = a[7]!;
    out[2] = a[1]!;
    out[3] = a[8]!;
    out[4] = a[12]! * 1e3 + a[13]! / 1e6;
    out[5] = a[14]! * 1e3 + a[15]! / 1e6;
    return true;
  };
}

/**
 * The fast reader when every check holds for `probe` (an existing path,
 * ideally a folder the caller is about to read), else lstatFieldsViaStats.
 * Never throws.
 */
export function chooseLstatFields(probe: string, host: LstatFieldsHost = nodeHost): LstatFields {
  try {
    if (host.permissionModel()) return lstatFieldsViaStats;
    const source = host.lstatSyncSource();
    if (!EXPECTED_CALL.test(source) || !EXPECTED_RESULT.test(source)) return lstatFieldsViaStats;
    const binding = host.fsBinding() as Partial<FsBinding> | undefined;
    if (typeof binding?.lstat !== "function") return lstatFieldsViaStats;
    const fast = fromBinding(binding as FsBinding);
    const expected = new Float64Array(LSTAT_FIELDS);
    const got = new Float64Array(LSTAT_FIELDS);
    if (!lstatFieldsViaStats(probe, expected) || !fast(probe, got)) return lstatFieldsViaStats;
    for (let i = 0; i < LSTAT_FIELDS; i++) if (got[i] !== expected[i]) return lstatFieldsViaStats;
    return fast;
  } catch {
    return lstatFieldsViaStats;
  }
}

let chosen: LstatFields | undefined;

/**
 * chooseLstatFields for this process, decided once — on the first probe
 * that exists: a missing one says nothing about this Node, and a long-lived
 * process (watch, up) must not keep the slow reader for that.
 */
export function lstatFields(probe: string): LstatFields {
  if (chosen !== undefined) return chosen;
  const reader = chooseLstatFields(probe);
  if (reader !== lstatFieldsViaStats || exists(probe)) chosen = reader;
  return reader;
}

function exists(path: string): boolean {
  try {
    return lstatSync(path, NO_THROW) !== undefined;
  } catch {
    return false;
  }
}
