// The content digests of a build context's files, remembered between builds
// under $STACK_STATE_DIR/build-cache/digests/<hash of the folder>.json so an
// unchanged file is not read again. A remembered digest is used only while
// the file's (device, inode, size, mtime, ctime) are the same: any write
// moves mtime and ctime, and ctime cannot be set back from user space.
//
// Racy entries are never remembered: a file whose mtime or ctime lies within
// RACY_MS of the moment it was read could still be rewritten within the same
// timestamp tick (the kernel stamps files with a coarse clock), with the same
// size, and look unchanged. Such a file is read again on the next build, as
// git does with its index.
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, readSync, type Stats } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../fs/atomic-write.js";

/** How close to "now" a file's timestamps may be before its digest is not remembered. */
export const RACY_MS = 1000;

/** Entries kept beyond this count are dropped unless the last build used them. */
const MAX_ENTRIES = 100_000;

const CHUNK = 1 << 20;

/** [dev, ino, size, mtimeMs, ctimeMs, sha256 hex] */
type Remembered = [number, number, number, number, number, string];

interface DigestFile {
  version: 1;
  root: string;
  files: Record<string, Remembered>;
}

/**
 * sha256 (hex) of a file's content, read in chunks so a large file is never
 * held whole; a file of up to 1 MiB is read in one go and handed to `keep`
 * (the layer writer then need not read it again).
 */
export function hashFileContent(hostPath: string, size: number, keep?: (content: Buffer) => void): string {
  const hash = createHash("sha256");
  if (size <= CHUNK) {
    const content = readFileSync(hostPath);
    keep?.(content);
    return hash.update(content).digest("hex");
  }
  const fd = openSync(hostPath, "r");
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

export interface DigestStats {
  /** Files whose digest was remembered. */
  hits: number;
  /** Files read and hashed. */
  reads: number;
}

export class ContentDigests {
  private readonly file: string;
  /** Read on the first digest asked for (a build whose steps are all confirmed by their memos never needs it). */
  private loaded: Record<string, Remembered> | undefined;
  /** Paths asked for by this build, tracked only when the file is near MAX_ENTRIES (then the others are dropped on save). */
  private used: Set<string> | undefined;
  private dirty = false;
  readonly stats: DigestStats = { hits: 0, reads: 0 };

  /** `cacheDir`: `$STACK_STATE_DIR/build-cache`; `root`: the context folder whose files are asked for. */
  constructor(cacheDir: string, readonly root: string, private readonly now: () => number = Date.now) {
    this.file = join(cacheDir, "digests", `${createHash("sha256").update(root).digest("hex").slice(0, 32)}.json`);
  }

  private get files(): Record<string, Remembered> {
    if (this.loaded === undefined) {
      this.loaded = loadDigestFile(this.file, this.root);
      this.used = Object.keys(this.loaded).length > MAX_ENTRIES / 2 ? new Set() : undefined;
    }
    return this.loaded;
  }

  /** The sha256 (hex) of the content of `hostPath`, whose lstat is `st`; `keep` gets the content when it was read whole. */
  digest(hostPath: string, st: Stats, keep?: (content: Buffer) => void): string {
    const key = hostPath;
    const files = this.files;
    this.used?.add(key);
    const known = files[key];
    if (Array.isArray(known) && known.length === 6 && known[0] === st.dev && known[1] === st.ino && known[2] === st.size && known[3] === st.mtimeMs && known[4] === st.ctimeMs) {
      this.stats.hits++;
      return known[5];
    }
    const readAt = this.now();
    const hex = hashFileContent(hostPath, st.size, keep);
    this.stats.reads++;
    if (Math.max(st.mtimeMs, st.ctimeMs) < readAt - RACY_MS) {
      files[key] = [st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs, hex];
      this.dirty = true;
    } else if (known) {
      delete files[key];
      this.dirty = true;
    }
    return hex;
  }

  /** Writes what changed (atomically); a failure to write only costs the next build some reads. */
  save(): void {
    if (!this.dirty) return;
    let files = this.files;
    const used = this.used;
    if (used !== undefined && Object.keys(files).length > MAX_ENTRIES) files = Object.fromEntries(Object.entries(files).filter(([k]) => used.has(k)));
    const data: DigestFile = { version: 1, root: this.root, files };
    try {
      // Compact: the file is read by every build of the context.
      writeFileAtomic(this.file, JSON.stringify(data));
      this.dirty = false;
    } catch {
      // The cache is an optimisation: a read-only or full state dir must not fail the build.
    }
  }
}

/** The remembered digests of `root`, or none when the file is missing, of another version or unreadable. */
function loadDigestFile(file: string, root: string): Record<string, Remembered> {
  try {
    const data = JSON.parse(readFileSync(file, "utf8")) as Partial<DigestFile>;
    if (data.version !== 1 || data.root !== root || typeof data.files !== "object" || data.files === null) return {};
    return data.files;
  } catch {
    return {};
  }
}
