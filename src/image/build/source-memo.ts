// What a COPY/ADD from a context folder looked at, remembered with the
// digest it led to, so a rebuild can confirm "nothing it reads changed" with
// one lstat per entry and one listing per folder — without planning the
// step again (no layer entries, no digest lines, no content digests).
//
// The plan of a COPY is a function of the step (its parent key, the
// instruction, the resolved --chown, the .dockerignore: all in the memo's
// key) and of what it observes in the context: the lstat of each path it
// asks for (or that it is absent), the names in each folder it lists, and
// the content of the files it hashes, which is trusted to be unchanged while
// the file's (device, inode, size, mtime, ctime) are — the rule of
// content-digests.ts. Folder listings are compared name by name, never
// trusted from timestamps. So when every observation still holds, the plan
// would be the same, and so would its digest.
//
// An observation is not remembered when its mtime or ctime lies within
// RACY_MS of the moment it was made (it could still change within the same
// timestamp tick), nor when one path was seen twice with different stats
// during the plan (it changed while the step looked): such a step is planned
// in full on every build until it settles.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, type Stats } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../fs/atomic-write.js";
import { RACY_MS } from "./content-digests.js";
import { LSTAT_FIELDS, lstatFields, type LstatFields } from "./lstat-fields.js";

/** Numbers kept per observed path: dev, ino, mode, size, mtimeMs, ctimeMs (dev -1: absent). */
const FIELDS = LSTAT_FIELDS;

interface MemoFile {
  version: 2;
  root: string;
  digest: string;
  /** Observed paths relative to root ("" is root itself), joined by "\n". */
  paths: string;
  /**
   * FIELDS numbers per path, as float64s in the host's byte order, base64: a
   * large context's memo is read by every cached build, and JSON numbers
   * (six per path, most of them 13–17 digits) took most of its parse.
   */
  stats: string;
  /** Listed folders: [relative path, names sorted and joined by "/"]. */
  dirs: Array<[string, string]>;
}

/** Receives what a context source observes while a step is planned (numbers only: no Stats object is kept per entry). */
export class SourceObserver {
  private readonly paths: string[] = [];
  private readonly stats: number[] = [];
  private readonly index = new Map<string, number>();
  private readonly dirs = new Map<string, string>();
  /** A path seen twice with different stats: the step must not be remembered. */
  private unsettled = false;

  constructor(private readonly startedAt: number) {}

  entry(rel: string, st: Stats | undefined): void {
    const seen = this.index.get(rel);
    if (seen === undefined) {
      this.index.set(rel, this.paths.length);
      this.paths.push(rel);
      if (st === undefined) this.stats.push(-1, 0, 0, 0, 0, 0);
      else this.stats.push(st.dev, st.ino, st.mode, st.size, st.mtimeMs, st.ctimeMs);
      return;
    }
    const s = this.stats;
    const o = seen * FIELDS;
    const same = st === undefined ? s[o] === -1 : s[o] === st.dev && s[o + 1] === st.ino && s[o + 2] === st.mode && s[o + 3] === st.size && s[o + 4] === st.mtimeMs && s[o + 5] === st.ctimeMs;
    if (!same) this.unsettled = true;
  }

  dir(rel: string, names: string[]): void {
    const joined = names.join("/");
    const seen = this.dirs.get(rel);
    if (seen !== undefined && seen !== joined) this.unsettled = true;
    this.dirs.set(rel, joined);
  }

  /** The memo of what was observed, or undefined when it cannot be trusted later (racy or unsettled). */
  memo(root: string, digest: string): MemoFile | undefined {
    if (this.unsettled) return undefined;
    const limit = this.startedAt - RACY_MS;
    const s = this.stats;
    for (let o = 0; o < s.length; o += FIELDS) {
      if (s[o] !== -1 && (s[o + 4]! >= limit || s[o + 5]! >= limit)) return undefined;
    }
    const stats = Buffer.from(new Float64Array(s).buffer).toString("base64");
    return { version: 2, root, digest, paths: this.paths.join("\n"), stats, dirs: [...this.dirs] };
  }
}

/** The memos under `$STACK_STATE_DIR/build-cache/sources/`, one small JSON file per step key. */
export class SourceMemos {
  /** `lstat`: how to read a path's fields (tests pass each reader; by default the fastest this Node allows). */
  constructor(private readonly cacheDir: string, private readonly lstat?: LstatFields) {}

  /** The memo key of a step: what its plan depends on besides the context's files. */
  static key(parts: unknown): string {
    return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
  }

  private file(key: string): string {
    return join(this.cacheDir, "sources", `${key}.json`);
  }

  /**
   * The remembered digest of the step `key` reading the folder `root`, when
   * every observation still holds; undefined when there is no memo, it is
   * unreadable, or anything differs.
   */
  check(key: string, root: string): string | undefined {
    let memo: MemoFile;
    try {
      memo = JSON.parse(readFileSync(this.file(key), "utf8")) as MemoFile;
    } catch {
      return undefined;
    }
    if (memo?.version !== 2 || memo.root !== root || typeof memo.paths !== "string" || typeof memo.stats !== "string" || !Array.isArray(memo.dirs)) return undefined;
    const paths = memo.paths.split("\n");
    const bytes = Buffer.from(memo.stats, "base64");
    if (bytes.length !== paths.length * FIELDS * 8) return undefined;
    // Copied into a Float64Array of its own: the decoded bytes need not be 8-byte aligned.
    const stats = new Float64Array(paths.length * FIELDS);
    new Uint8Array(stats.buffer).set(bytes);
    // A NUL would end a path early in the system call (the fast lstat does not check): such a memo is damaged.
    if (memo.paths.includes("\0") || root.includes("\0")) return undefined;
    // One lstat per path, compared in place: the loop a fully cached build spends its time in
    // (lstat-fields.ts: without a Stats object per path where this Node allows).
    const lstat = this.lstat ?? lstatFields(root);
    const now = new Float64Array(FIELDS);
    try {
      for (let i = 0, o = 0; i < paths.length; i++, o += FIELDS) {
        const rel = paths[i]!;
        if (!lstat(rel === "" ? root : `${root}/${rel}`, now)) {
          if (stats[o] !== -1) return undefined;
        } else if (stats[o] !== now[0] || stats[o + 1] !== now[1] || stats[o + 2] !== now[2] || stats[o + 3] !== now[3] || stats[o + 4] !== now[4] || stats[o + 5] !== now[5]) {
          return undefined;
        }
      }
      for (const [rel, names] of memo.dirs) {
        if (readdirSync(rel === "" ? root : `${root}/${rel}`).sort().join("/") !== names) return undefined;
      }
    } catch {
      return undefined; // a folder became a file, permissions …: plan the step
    }
    return typeof memo.digest === "string" ? memo.digest : undefined;
  }

  /** Remembers a plan's observations (nothing when they cannot be trusted); a failure to write only costs a full plan next time. */
  save(key: string, root: string, digest: string, observer: SourceObserver): void {
    const memo = observer.memo(root, digest);
    if (!memo) return;
    try {
      writeFileAtomic(this.file(key), JSON.stringify(memo), 0o644, { durable: false });
    } catch {
      // an optimisation only
    }
  }
}
