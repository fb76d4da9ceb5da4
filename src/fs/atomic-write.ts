// State files: every write goes to a temporary file beside the target, then is
// renamed over it, so a reader (or a killed process) sees the old content or
// the new one, never half of it. Durable writes (the default) also fsync the
// file and its folder, so an OS crash keeps that promise too; `durable: false`
// is for files that only describe what dies with the OS anyway (a container's
// spec, hosts file, handle), where the fsyncs cost 5-15 ms each and block.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

export interface WriteOptions {
  /** fsync the file and its folder (default true). */
  durable?: boolean;
  /**
   * The file is new, in a folder nothing reads yet (a container's, before
   * the record that names it is written): written in place, no temporary
   * file, no rename — a crash leaves a half file only where nothing will
   * read it. A file already there (a crashed attempt's) is replaced as
   * without this option. Not with `durable`.
   */
  fresh?: boolean;
}

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, options: WriteOptions = {}): void {
  if (options.fresh && !(options.durable ?? true) && writeNew(path, data, mode)) return;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
  const durable = options.durable ?? true;
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (!durable) return;
  // The rename itself is durable once the directory is synced.
  const dfd = openSync(dir, "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/**
 * Makes a file written with `durable: false` durable as it is (its data, and
 * its name in its folder): what a durable write of the same content would
 * promise, without writing it again.
 */
export function syncFile(path: string): void {
  for (const p of [path, dirname(path)]) {
    const fd = openSync(p, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** Writes a file that does not exist yet (O_EXCL); false when it does. */
function writeNew(path: string, data: string | Uint8Array, mode: number): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
  } finally {
    closeSync(fd);
  }
  return true;
}

export function writeJsonAtomic(path: string, value: unknown, options: WriteOptions = {}): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n", 0o644, options);
}

/** The parsed file, or `fallback` when it does not exist. A corrupt file is an error for the caller to report. */
export function readJson<T>(path: string, fallback: T): T {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return fallback;
    throw e;
  }
  return JSON.parse(text) as T;
}
