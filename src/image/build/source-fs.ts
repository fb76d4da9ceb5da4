// Where COPY/ADD read from: the build context (a host folder with its
// .dockerignore applied) or an image/stage (a LayeredFs). Both answer the
// same three questions, with paths inside the source ("/a/b" or "a/b").
import { lstatSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { join, posix } from "node:path";
import type { IgnoreRules } from "../dockerignore.js";
import { hashFileContent, type ContentDigests } from "./content-digests.js";
import type { LayeredFs } from "./layered-fs.js";

export interface SourceEntry {
  hostPath: string;
  stat: Stats;
}

export interface SourceFs {
  /** Names this source in messages: "the build context", "stage build". */
  readonly label: string;
  lstat(path: string): SourceEntry | undefined;
  readdir(path: string): string[];
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

  /** lstat results by relative path: a build sees each context entry once, as one snapshot (null: absent or ignored). */
  private readonly entries = new Map<string, SourceEntry | null>();

  private rel(path: string): string {
    // The common case (a clean path from a walk) skips normalisation.
    const p = path[0] === "/" ? path.slice(1) : path;
    if (p !== "" && !p.includes("//") && !p.endsWith("/") && !/(^|\/)\.\.?(\/|$)/.test(p)) return p;
    return posix.normalize(`/${path}`).slice(1).replace(/\/$/, "");
  }

  lstat(path: string): SourceEntry | undefined {
    const rel = this.rel(path);
    let e = this.entries.get(rel);
    if (e === undefined) {
      e = this.lstatUncached(rel);
      this.entries.set(rel, e);
    }
    return e ?? undefined;
  }

  private lstatUncached(rel: string): SourceEntry | null {
    const hostPath = rel === "" ? this.root : join(this.root, rel);
    let stat: Stats;
    try {
      stat = lstatSync(hostPath);
    } catch {
      return null;
    }
    // An excluded folder is still walked when a `!` line may bring something below it back.
    if (rel !== "" && this.ignore?.excludes(rel) && !(stat.isDirectory() && this.ignore.hasExceptions)) return null;
    return { hostPath, stat };
  }

  readdir(path: string): string[] {
    const rel = this.rel(path);
    const names = readdirSync(rel === "" ? this.root : join(this.root, rel)).sort();
    return names.filter((n) => this.lstat(rel === "" ? n : `${rel}/${n}`) !== undefined);
  }

  resolve(path: string, followLast = true): string {
    return resolveIn(path, followLast, (p) => {
      const e = this.lstat(p);
      return e?.stat.isSymbolicLink() ? readlinkSync(e.hostPath) : undefined;
    });
  }

  /** Whether an excluded folder's entry is excluded itself (walks skip it, but keep looking below). */
  excluded(path: string): boolean {
    const rel = this.rel(path);
    return rel !== "" && (this.ignore?.excludes(rel) ?? false);
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

export function isExcludedContext(fs: SourceFs, path: string): boolean {
  return fs instanceof ContextFs && fs.excluded(path);
}
