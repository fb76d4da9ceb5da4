// Where COPY/ADD read from: the build context (a host folder with its
// .dockerignore applied) or an image/stage (a LayeredFs). Both answer the
// same three questions, with paths inside the source ("/a/b" or "a/b").
import { lstatSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { join, posix } from "node:path";
import type { IgnoreRules } from "../dockerignore.js";
import { hashFileContent, type ContentDigests } from "./content-digests.js";
import type { LayeredFs } from "./layered-fs.js";
import type { SourceObserver } from "./source-memo.js";

export interface SourceEntry {
  hostPath: string;
  stat: Stats;
  /** A context folder the .dockerignore excludes, present only because a `!` line may bring back something below it: walks skip it and look below. */
  excluded?: true;
}

/** A folder's entry as a walk sees it: its name and what lstat said. */
export interface SourceChild {
  name: string;
  entry: SourceEntry;
}

export interface SourceFs {
  /** Names this source in messages: "the build context", "stage build". */
  readonly label: string;
  lstat(path: string): SourceEntry | undefined;
  readdir(path: string): string[];
  /** The entries of folder `path`, sorted by name (ignored ones left out): a walk's one question per folder. */
  children(path: string): SourceChild[];
  /** Resolves symlinks inside the source (never out of it). */
  resolve(path: string, followLast?: boolean): string;
  /** sha256 (hex) of the content of a regular file of this source, given its lstat; `keep` gets the content when it was read whole. */
  contentDigest(hostPath: string, stat: Stats, keep?: (content: Buffer) => void): string;
}

/**
 * A host folder as a source; `ignore` (the .dockerignore) hides what it
 * matches; `digests` remembers content digests between builds.
 */
export class ContextFs implements SourceFs {
  constructor(readonly root: string, private readonly ignore?: IgnoreRules, readonly label = "the build context", private readonly digests?: ContentDigests) {}

  contentDigest(hostPath: string, stat: Stats, keep?: (content: Buffer) => void): string {
    return this.digests ? this.digests.digest(hostPath, stat, keep) : hashFileContent(hostPath, stat.size, keep);
  }

  /**
   * lstat results of the paths a build names (sources, globs, bind mounts, symlinks on the way) by
   * relative path, so each is looked at once: what lstat said (undefined: absent) and the entry
   * (null: absent or ignored). A walk's entries are not kept.
   */
  private readonly entries = new Map<string, { stat: Stats | undefined; entry: SourceEntry | null }>();

  /** Told every lstat result and folder listing a step's plan uses (source-memo.ts), while set. */
  observer: SourceObserver | undefined;

  private rel(path: string): string {
    // The common case (a clean path from a walk) skips normalisation.
    const p = path[0] === "/" ? path.slice(1) : path;
    if (p !== "" && !p.includes("//") && !p.endsWith("/") && !/(^|\/)\.\.?(\/|$)/.test(p)) return p;
    return posix.normalize(`/${path}`).slice(1).replace(/\/$/, "");
  }

  lstat(path: string): SourceEntry | undefined {
    const rel = this.rel(path);
    let seen = this.entries.get(rel);
    if (seen === undefined) {
      const hostPath = rel === "" ? this.root : join(this.root, rel);
      const stat = lstatOrUndefined(hostPath);
      seen = { stat, entry: this.entryOf(rel, hostPath, stat) };
      this.entries.set(rel, seen);
    }
    this.observer?.entry(rel, seen.stat);
    return seen.entry ?? undefined;
  }

  /** The entry of a clean relative path with the .dockerignore applied (null: absent or ignored). */
  private entryOf(rel: string, hostPath: string, stat: Stats | undefined): SourceEntry | null {
    if (stat === undefined) return null;
    if (rel === "" || this.ignore === undefined || !this.ignore.excludes(rel)) return { hostPath, stat };
    // An excluded folder is still walked when a `!` line may bring something below it back.
    return stat.isDirectory() && this.ignore.hasExceptions ? { hostPath, stat, excluded: true } : null;
  }

  readdir(path: string): string[] {
    return this.children(path).map((c) => c.name);
  }

  children(path: string): SourceChild[] {
    const rel = this.rel(path);
    const dir = rel === "" ? this.root : join(this.root, rel);
    const names = readdirSync(dir).sort();
    const observer = this.observer;
    observer?.dir(rel, names);
    const out: SourceChild[] = [];
    // A walk of a large context runs this once per entry, mostly in a fresh process (cold code): one lstat and two string joins each.
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const childRel = rel === "" ? name : `${rel}/${name}`;
      // Not kept in the lookup table: a large context would keep a Stats (and its four Dates) per entry alive for the build.
      const seen = this.entries.get(childRel);
      let entry: SourceEntry | null;
      if (seen !== undefined) {
        observer?.entry(childRel, seen.stat);
        entry = seen.entry;
      } else {
        const hostPath = `${dir}/${name}`;
        const stat = lstatOrUndefined(hostPath);
        observer?.entry(childRel, stat);
        entry = this.entryOf(childRel, hostPath, stat);
      }
      if (entry !== null) out.push({ name, entry });
    }
    return out;
  }

  resolve(path: string, followLast = true): string {
    return resolveIn(path, followLast, (p) => {
      const e = this.lstat(p);
      return e?.stat.isSymbolicLink() ? readlinkSync(e.hostPath) : undefined;
    });
  }

}

const NO_THROW = { throwIfNoEntry: false } as const;

function lstatOrUndefined(hostPath: string): Stats | undefined {
  try {
    return lstatSync(hostPath, NO_THROW);
  } catch {
    return undefined; // not a folder on the way, too long, …: absent, as for a missing entry
  }
}

/** An image's layers as a source. */
export class LayeredSource implements SourceFs {
  constructor(readonly fs: LayeredFs, readonly label: string) {}
  lstat(path: string): SourceEntry | undefined {
    return this.fs.lstat(path);
  }
  readdir(path: string): string[] {
    return this.fs.readdir(path);
  }
  children(path: string): SourceChild[] {
    const out: SourceChild[] = [];
    const dir = path.endsWith("/") ? path : `${path}/`;
    for (const name of this.fs.readdir(path)) {
      const entry = this.fs.lstat(`${dir}${name}`);
      if (entry) out.push({ name, entry });
    }
    return out;
  }
  resolve(path: string, followLast = true): string {
    return this.fs.resolve(path, followLast);
  }
  contentDigest(hostPath: string, stat: Stats, keep?: (content: Buffer) => void): string {
    return hashFileContent(hostPath, stat.size, keep);
  }
}

/** Symlink resolution inside a root: absolute targets restart at the root, `..` stops there; at most 40 links. */
export function resolveIn(path: string, followLast: boolean, linkOf: (path: string) => string | undefined): string {
  let links = 0;
  const parts = posix.normalize(`/${path}`).split("/").filter(Boolean);
  let done = "/";
  while (parts.length > 0) {
    const name = parts.shift()!;
    if (name === "..") {
      done = posix.dirname(done);
      continue;
    }
    if (name === ".") continue;
    const next = posix.join(done, name);
    const target = parts.length > 0 || followLast ? linkOf(next) : undefined;
    if (target !== undefined) {
      if (++links > 40) throw Object.assign(new Error(`too many levels of symbolic links: ${path}`), { code: "ELOOP" });
      if (target.startsWith("/")) done = "/";
      parts.unshift(...target.split("/").filter(Boolean));
      continue;
    }
    done = next;
  }
  return done;
}
