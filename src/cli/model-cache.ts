// Loaded models, kept for the next command: when the stack files, the .env
// and env files, the environment variables the load read and stack's own
// code are as they were, a command takes the model from
// $STACK_STATE_DIR/cache/models/ instead of running the loading stages
// (YAML, interpolation, validation, normalization: the config path, ~40 ms of
// a command's start). `stack ps`, `logs`, `stop` … start that much sooner.
//
// What a load depended on is recorded as it runs (recordingReader,
// recordingEnv): every file the loader asked for, found or not, with its
// size, times and inode; every variable it looked up, set or not. Any
// difference on the next command is a miss. A file changed within the last
// second (by its ctime, which no tool can set back) is not cached: two
// writes in one timestamp tick could leave the same stamp. A load that
// enumerated the whole environment, or read stdin, is not cached either.
//
// Deliberately small: it is imported before the loader, on every command that
// loads a project.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SourceReader } from "../schema/discover.js";
import type { LoadOptions } from "../schema/load.js";
import type { StackModel } from "../schema/model.js";

/** The load options the model depends on, besides the files and the environment. */
export type ModelCacheKey = Pick<LoadOptions, "files" | "cwd" | "projectName" | "projectDirectory" | "profiles" | "envFiles" | "interpolate" | "services">;

interface Entry {
  key: string;
  code: string;
  /** Path → stamp ("" = absent). */
  files: Record<string, string>;
  /** Variable → value (null = unset). */
  env: Record<string, string | null>;
  model: StackModel;
  warnings: string[];
}

/** What one load read: filled by recordingReader and recordingEnv. */
export interface LoadRecord {
  files: Record<string, string>;
  env: Record<string, string | null>;
  /** A file changed while it was read, was too fresh, or the whole environment was read: nothing to cache. */
  uncacheable: boolean;
}

export function newLoadRecord(): LoadRecord {
  return { files: {}, env: {}, uncacheable: false };
}

const FRESH_NS = 1_000_000_000n;
const STALE_MS = 7 * 24 * 3600 * 1000;

/** Kind, size, mtime, ctime and inode of a path; "" when it does not exist. */
function stampOf(path: string): string {
  const s = statSync(path, { bigint: true, throwIfNoEntry: false });
  return s ? stampFrom(s) : "";
}

function stampFrom(s: BigIntStats): string {
  return `${s.isDirectory() ? "d" : "f"}${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;
}

/** The loader's reader, noting each path's stamp before and after the read. */
export function recordingReader(inner: SourceReader, record: LoadRecord): SourceReader {
  return {
    readText(path: string): string | undefined {
      const before = statSync(path, { bigint: true, throwIfNoEntry: false });
      const text = inner.readText(path);
      const stamp = stampOf(path);
      if (stamp !== (before ? stampFrom(before) : "") || (before && BigInt(Date.now()) * 1_000_000n - before.ctimeNs < FRESH_NS)) record.uncacheable = true;
      if (path in record.files && record.files[path] !== stamp) record.uncacheable = true;
      record.files[path] = stamp;
      return text;
    },
  };
}

/** The environment as the loader sees it, noting each variable it looks at. */
export function recordingEnv(env: Record<string, string | undefined>, record: LoadRecord): Record<string, string | undefined> {
  const note = (k: string | symbol) => {
    if (typeof k !== "string") return undefined;
    const v = Object.hasOwn(env, k) ? env[k] : undefined;
    record.env[k] = typeof v === "string" ? v : null;
    return typeof v === "string" ? v : undefined;
  };
  return new Proxy({} as Record<string, string | undefined>, {
    get: (_t, k) => note(k),
    has: (_t, k) => note(k) !== undefined,
    getOwnPropertyDescriptor: (_t, k) => {
      const v = note(k);
      return v === undefined ? undefined : { value: v, writable: true, enumerable: true, configurable: true };
    },
    ownKeys: () => {
      record.uncacheable = true;
      return Reflect.ownKeys(env);
    },
  });
}

function keyText(key: ModelCacheKey): string {
  return JSON.stringify([key.cwd, key.files, key.projectName ?? null, key.projectDirectory ?? null, key.profiles, key.envFiles, key.interpolate, key.services ?? null]);
}

/**
 * The entry's file: FNV-1a hashes of the key and of the code. The CLI and
 * the supervisor (which loads projects for warm runs) are two builds, so
 * each keeps its own entry rather than replacing the other's at every turn.
 */
function fileName(key: string): string {
  return `${fnv(key)}-${fnv(code())}.json`;
}

/** FNV-1a, 2 x 32 bits (the entry holds the key and code themselves: a collision is a miss). */
function fnv(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x811c9dc5) >>> 0;
  }
  return `${a.toString(16).padStart(8, "0")}${b.toString(16).padStart(8, "0")}`;
}

let codeIdentity: string | undefined;
/** This build of stack: Node's version and this module's file (rewritten by every build). */
function code(): string {
  if (codeIdentity === undefined) {
    let own = "";
    try {
      own = stampOf(fileURLToPath(import.meta.url));
    } catch {
      // not a file URL: no identity beyond Node's
    }
    codeIdentity = `${process.version}|${own}`;
  }
  return codeIdentity;
}

function folder(stateDir: string): string {
  return join(stateDir, "cache", "models");
}

/** The cached model for this load, when nothing it depended on changed. */
export function cachedModel(stateDir: string, key: ModelCacheKey, env: Record<string, string | undefined>): { model: StackModel; warnings: string[] } | undefined {
  if (key.files.includes("-")) return undefined;
  const text = keyText(key);
  let entry: Entry;
  try {
    entry = JSON.parse(readFileSync(join(folder(stateDir), fileName(text)), "utf8")) as Entry;
  } catch {
    return undefined;
  }
  if (entry.key !== text || entry.code !== code()) return undefined;
  for (const [name, value] of Object.entries(entry.env)) {
    const now = Object.hasOwn(env, name) ? env[name] : undefined;
    if ((typeof now === "string" ? now : null) !== value) return undefined;
  }
  for (const [path, stamp] of Object.entries(entry.files)) {
    if (stampOf(path) !== stamp) return undefined;
  }
  return { model: entry.model, warnings: entry.warnings };
}

/** Keeps a load's result for the next command (atomically; a failure to write is no error: the cache is only a shortcut). */
export function storeModel(stateDir: string, key: ModelCacheKey, record: LoadRecord, result: { model: StackModel; warnings: string[] }): void {
  if (record.uncacheable || key.files.includes("-")) return;
  const text = keyText(key);
  const entry: Entry = { key: text, code: code(), files: record.files, env: record.env, model: result.model, warnings: result.warnings };
  const dir = folder(stateDir);
  const path = join(dir, fileName(text));
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, path);
    // Entries written more than a week ago go (old builds', old folders'); one still in use is written again at its next miss.
    const old = Date.now() - STALE_MS;
    for (const name of readdirSync(dir)) {
      const other = join(dir, name);
      if (other !== path && (statSync(other, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < old) rmSync(other, { force: true });
    }
  } catch {
    // read-only or full state dir: the next command loads the files again
  }
}
