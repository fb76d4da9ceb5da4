// Unpacks one layer tarball into a fresh folder so that it can be stacked as
// an overlay lowerdir: OCI whiteouts become overlay whiteouts (0/0 character
// devices) and opaque markers the `trusted.overlay.opaque=y` xattr; modes,
// owners, mtimes, symlinks, hard links, device nodes and xattrs are kept.
//
// Hostile input: names are cleaned by entryPath() (no ".."), every parent of
// an entry must be a real directory inside the root (a symlink or file there
// is refused, so nothing is written through a symlink), whatever sits at the
// entry's own path is removed first and files are created with O_EXCL |
// O_NOFOLLOW, and hard links may only point at non-directories inside the
// root reached without symlinks. Symlink *targets* are not checked: they are
// resolved inside the container's rootfs, never by the extractor.
//
// Speed: metadata calls (lstat, mkdir, open, chown, chmod, utimes, close) are
// made in place: each is a microsecond-scale inode update, while a threadpool
// round trip per call, several per file, cost more than the calls themselves
// and made unpacking the slow half of a pull (bench/pull). Content is written
// in 1 MiB pieces by the threadpool, a file's smaller tail in place.
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  utimesSync,
  writev,
  writevSync,
  type Stats,
} from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar-stream";
import { InvalidInputError, SystemError, isStackError } from "../../errors.js";
import { entryPath, hardLinkTarget, parentPaths, unsafeEntry, whiteoutOf } from "./entry-path.js";
import type { NodeSpec, SpecialFiles, XattrSpec } from "./special-files.js";

export interface ExtractResult {
  entries: number;
  /** Bytes of regular file content written. */
  contentBytes: number;
  /** Xattrs the archive carried that could not be kept (binary values the tar reader decodes as text). */
  skippedXattrs: string[];
}

/** Seconds since the epoch; fractional when a PAX header carries sub-second time. */
type Mtime = number | undefined;

interface DirMeta {
  path: string;
  mode: number;
  mtime: Mtime;
}

interface PendingNode {
  node: NodeSpec;
  uid: number;
  gid: number;
  mode: number;
  mtime?: Mtime;
}

const XATTR_PAX_PREFIX = "SCHILY.xattr.";
/**
 * File content is gathered into pieces of this much, each written by the
 * threadpool; a file's smaller tail (most files whole) is written in place.
 */
const WRITE_BATCH = 1024 * 1024;

function writevAsync(fd: number, chunks: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => writev(fd, chunks, (e, n) => (e ? reject(e) : resolve(n))));
}

/** Writes all of `chunks` at the file's current offset, however many calls that takes. */
async function writeAll(fd: number, chunks: Buffer[], total: number, inPlace: boolean): Promise<void> {
  let written = inPlace ? writevSync(fd, chunks) : await writevAsync(fd, chunks);
  if (written === total) return;
  const rest = Buffer.concat(chunks, total);
  while (written < total) written += inPlace ? writevSync(fd, [rest.subarray(written)]) : await writevAsync(fd, [rest.subarray(written)]);
}

function mtimeOf(h: { mtime?: Date; pax?: Record<string, string> | null }): Mtime {
  const pax = h.pax?.mtime;
  if (pax !== undefined && /^\d+(\.\d+)?$/.test(pax)) return Number(pax);
  return h.mtime ? h.mtime.getTime() / 1000 : undefined;
}
const OPAQUE_XATTR = "trusted.overlay.opaque";

function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

/** The tar reader's own errors (truncated or garbled archives) become InvalidInputErrors; ours pass through. */
function asStackError(e: unknown): unknown {
  if (isStackError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.code && err.syscall) {
    return new SystemError(`cannot write the layer: ${err.message}`, { hint: "check free space and that stack runs as root", cause: e });
  }
  return new InvalidInputError(`the archive is not a valid tar: ${err?.message ?? String(e)}`, {
    hint: "the file is truncated or not a tar archive; check it with `tar -tvf FILE`",
    cause: e,
  });
}

export async function extractLayer(input: Readable, root: string, special: SpecialFiles): Promise<ExtractResult> {
  const result: ExtractResult = { entries: 0, contentBytes: 0, skippedXattrs: [] };
  /** Paths (relative) known to be real directories we made or checked. */
  const knownDirs = new Set<string>([""]);
  const dirMeta = new Map<string, DirMeta>();
  const nodes = new Map<string, PendingNode>();
  const xattrs: XattrSpec[] = [];

  const abs = (rel: string) => (rel === "" ? root : join(root, rel));

  const forgetUnder = (rel: string) => {
    for (const d of [...knownDirs]) if (d === rel || d.startsWith(rel + "/")) knownDirs.delete(d);
    for (const d of [...dirMeta.keys()]) if (d === rel || d.startsWith(rel + "/")) dirMeta.delete(d);
    for (const n of [...nodes.keys()]) if (n === rel || n.startsWith(rel + "/")) nodes.delete(n);
  };

  /** Makes sure every parent of `rel` is a real directory, creating missing ones (0755, root). */
  const ensureParents = async (name: string, rel: string, create: boolean) => {
    for (const p of parentPaths(rel)) {
      if (knownDirs.has(p)) continue;
      if (nodes.has(p)) throw unsafeEntry(name, `its parent ${JSON.stringify(p)} is a device node or whiteout`);
      const st = lstatOrNull(abs(p));
      if (st === null) {
        if (!create) throw unsafeEntry(name, `${JSON.stringify(p)} does not exist in the layer`);
        mkdirSync(abs(p), { mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        throw unsafeEntry(name, `its parent ${JSON.stringify(p)} is a symlink; writing through it could reach outside the layer`);
      } else if (!st.isDirectory()) {
        throw unsafeEntry(name, `its parent ${JSON.stringify(p)} is not a directory`);
      }
      knownDirs.add(p);
    }
  };

  /** Removes whatever is at `rel` unless it is a directory and `keepDir` is set. Returns true when a directory was kept. */
  const clearPath = async (rel: string, keepDir: boolean): Promise<boolean> => {
    nodes.delete(rel);
    const st = lstatOrNull(abs(rel));
    if (st === null) return false;
    if (keepDir && st.isDirectory()) return true;
    forgetUnder(rel);
    await rm(abs(rel), { recursive: true, force: true });
    return false;
  };

  const queueXattrs = (name: string, rel: string, pax: Record<string, string> | null | undefined) => {
    if (!pax) return;
    for (const key of Object.keys(pax).sort()) {
      if (!key.startsWith(XATTR_PAX_PREFIX)) continue;
      const attr = key.slice(XATTR_PAX_PREFIX.length);
      const value = pax[key] ?? "";
      // tar-stream decodes PAX values as UTF-8: a binary value (e.g. security.capability) is not recoverable.
      if (value.includes("\uFFFD")) {
        result.skippedXattrs.push(`${rel || "/"}: ${attr}`);
        continue;
      }
      if (attr.startsWith("trusted.overlay.")) throw unsafeEntry(name, `it sets the overlay-internal xattr ${JSON.stringify(attr)}`);
      xattrs.push({ path: abs(rel), name: attr, value: Buffer.from(value, "utf8") });
    }
  };

  const extract = tar.extract();
  const done = pipeline(input, extract);
  const work = (async () => {
    for await (const entry of extract) {
      const h = entry.header as tar.Header & { pax?: Record<string, string> | null };
      const name = h.name;
      const rel = entryPath(name);
      result.entries++;
      const white = whiteoutOf(rel);
      if (white.kind === "ignored") {
        entry.resume();
        continue;
      }
      if (white.kind === "opaque") {
        entry.resume();
        await ensureParents(name, rel, true);
        if (white.dir !== "" && !(await clearPath(white.dir, true))) {
          mkdirSync(abs(white.dir), { mode: 0o755 });
          knownDirs.add(white.dir);
        }
        xattrs.push({ path: abs(white.dir), name: OPAQUE_XATTR, value: Buffer.from("y") });
        continue;
      }
      if (white.kind === "whiteout") {
        entry.resume();
        await ensureParents(name, white.target, true);
        await clearPath(white.target, false);
        nodes.set(white.target, { node: { path: abs(white.target), kind: "char", major: 0, minor: 0 }, uid: 0, gid: 0, mode: 0o600 });
        continue;
      }
      const uid = h.uid ?? 0;
      const gid = h.gid ?? 0;
      const mode = (h.mode ?? 0o644) & 0o7777;
      const mtime = mtimeOf(h);
      const target = abs(rel);
      if (rel === "") {
        entry.resume();
        if (h.type === "directory") {
          lchownSync(root, uid, gid);
          dirMeta.set("", { path: root, mode, mtime });
          queueXattrs(name, rel, h.pax);
          continue;
        }
        throw unsafeEntry(name, "only a directory may stand for the layer root");
      }
      await ensureParents(name, rel, true);
      switch (h.type) {
        case "directory": {
          entry.resume();
          if (!(await clearPath(rel, true))) mkdirSync(target, { mode: 0o700 });
          lchownSync(target, uid, gid);
          chmodSync(target, mode);
          knownDirs.add(rel);
          dirMeta.set(rel, { path: target, mode, mtime });
          break;
        }
        case "file":
        case "contiguous-file":
        case undefined:
        case null: {
          await clearPath(rel, false);
          const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
          try {
            let pending: Buffer[] = [];
            let pendingBytes = 0;
            for await (const chunk of entry as AsyncIterable<Buffer>) {
              pending.push(chunk);
              pendingBytes += chunk.length;
              if (pendingBytes < WRITE_BATCH) continue;
              await writeAll(fd, pending, pendingBytes, false);
              result.contentBytes += pendingBytes;
              pending = [];
              pendingBytes = 0;
            }
            if (pendingBytes > 0) await writeAll(fd, pending, pendingBytes, true);
            result.contentBytes += pendingBytes;
            fchownSync(fd, uid, gid);
            fchmodSync(fd, mode);
            if (mtime !== undefined) futimesSync(fd, mtime, mtime);
          } finally {
            closeSync(fd);
          }
          break;
        }
        case "symlink": {
          entry.resume();
          await clearPath(rel, false);
          symlinkSync(h.linkname ?? "", target);
          lchownSync(target, uid, gid);
          if (mtime !== undefined) lutimesSync(target, mtime, mtime);
          break;
        }
        case "link": {
          entry.resume();
          const linkRel = hardLinkTarget(name, h.linkname ?? "");
          await ensureParents(name, linkRel, false);
          if (nodes.has(linkRel)) throw unsafeEntry(name, `its hard link target ${JSON.stringify(linkRel)} is a device node or whiteout, which hard links cannot share here`);
          const st = lstatOrNull(abs(linkRel));
          if (st === null) throw unsafeEntry(name, `its hard link target ${JSON.stringify(h.linkname)} is not earlier in the layer`);
          if (st.isDirectory()) throw unsafeEntry(name, `its hard link target ${JSON.stringify(h.linkname)} is a directory`);
          if (linkRel === rel) break;
          await clearPath(rel, false);
          linkSync(abs(linkRel), target);
          break;
        }
        case "character-device":
        case "block-device":
        case "fifo": {
          entry.resume();
          await clearPath(rel, false);
          const kind = h.type === "fifo" ? "fifo" : h.type === "block-device" ? "block" : "char";
          nodes.set(rel, { node: { path: target, kind, major: h.devmajor ?? 0, minor: h.devminor ?? 0 }, uid, gid, mode, mtime });
          break;
        }
        default:
          // pax/GNU meta headers are consumed by the reader; anything else (sparse, volume labels) carries no file.
          entry.resume();
          continue;
      }
      queueXattrs(name, rel, h.pax);
    }
  })();
  // Whichever fails first wins; the other is awaited so no work continues in the background.
  const outcome = await Promise.allSettled([work, done]);
  for (const o of outcome) if (o.status === "rejected") throw asStackError(o.reason);

  const pending = [...nodes.keys()].sort().map((k) => nodes.get(k)!);
  await special.makeNodes(pending.map((p) => p.node));
  for (const p of pending) {
    lchownSync(p.node.path, p.uid, p.gid);
    chmodSync(p.node.path, p.mode);
    if (p.mtime !== undefined) utimesSync(p.node.path, p.mtime, p.mtime);
  }
  await special.setXattrs(xattrs);
  // Directory mtimes last, deepest first, so writing their children does not change them again.
  const dirs = [...dirMeta.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  for (const d of dirs) {
    const m = dirMeta.get(d)!;
    if (d === "") chmodSync(root, m.mode);
    if (m.mtime !== undefined) utimesSync(m.path, m.mtime, m.mtime);
  }
  return result;
}
