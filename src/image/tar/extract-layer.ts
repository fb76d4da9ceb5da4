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
// Speed: the extractor is a synchronous TarSink (tar-reader.ts): every call
// — lstat, mkdir, open, write, chown, chmod, utimes, close — is made in place
// as the reader parses, so content is written straight from the piece being
// read (a pull's one reused inflate buffer) and nothing is allocated per
// piece. Each call is a microsecond-scale inode update or a page-cache copy,
// while a threadpool round trip per call cost more than the call. A new file
// is opened with its final permission bits, so chmod is skipped when the
// umask left them whole and chown when the owner is already the creator's.
// The exception: a file of 64 KiB or more, where the page cache is measured
// slow (fs/page-cache-cost.ts), is written past it (fs/direct-write.ts) from
// the threadpool; its owner, mode and times are set when its last write is
// done, and finish() and abort() wait for every such file.
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
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  type Stats,
} from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { InvalidInputError, SystemError, isStackError } from "../../errors.js";
import { closeAbandoning, openDirect, wantDirect, type DirectPolicy, type DirectWriter } from "../../fs/direct-write.js";
import { writePlainSync } from "../../fs/page-cache-cost.js";
import { entryPath, hardLinkTarget, parentPaths, unsafeEntry, whiteoutOf } from "./entry-path.js";
import type { NodeSpec, SpecialFiles, XattrSpec } from "./special-files.js";
import { TarReader, type TarHeader, type TarSink } from "./tar-reader.js";

export interface ExtractResult {
  entries: number;
  /** Bytes of regular file content written. */
  contentBytes: number;
  /** Xattrs the archive carried that could not be kept (binary values the tar reader decodes as text). */
  skippedXattrs: string[];
}

/** Seconds since the epoch; fractional when a PAX header carries sub-second time. */
type Mtime = number;

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
const OPAQUE_XATTR = "trusted.overlay.opaque";
const SPECIAL_BITS = 0o7000;
const SETGID = 0o2000;

function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

/** This process's umask, from /proc (process.umask() to read it is deprecated); null when unknown, and then every file is chmodded. */
function currentUmask(): number | null {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? parseInt(m[1]!, 8) : null;
  } catch {
    return null;
  }
}

/** The tar reader's own errors are InvalidInputErrors already; a failed system call becomes a SystemError. */
export function asStackError(e: unknown): unknown {
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

/**
 * Unpacks a tar into `root` as a TarReader feeds it. entry(), data() and
 * entryEnd() do their work before they return (data's bytes are written, not
 * kept); finish() then makes the device nodes and xattrs and sets directory
 * times. After a failure, abort() closes what is open; the caller removes
 * the folder.
 */
export class LayerExtractor implements TarSink {
  private readonly result: ExtractResult = { entries: 0, contentBytes: 0, skippedXattrs: [] };
  /** Paths (relative) known to be real directories we made or checked. */
  private readonly knownDirs = new Set<string>([""]);
  /** Directories with the set-group-ID bit: what is created in them takes their group. */
  private readonly setgidDirs = new Map<string, number>();
  private readonly dirMeta = new Map<string, DirMeta>();
  private readonly nodes = new Map<string, PendingNode>();
  private readonly xattrs: XattrSpec[] = [];
  private readonly euid = process.geteuid?.() ?? 0;
  private readonly egid = process.getegid?.() ?? 0;
  private readonly umask = currentUmask();
  /** The regular file being written, with what to set on it once its content is in. */
  private file: { fd: number; rel: string; header: TarHeader; direct: DirectWriter | null; written: number } | undefined;
  /** Large files whose direct writes are still in flight; each sets its metadata and closes itself when done. */
  private readonly writing = new Set<Promise<void>>();
  private writeFailure: { error: unknown } | undefined;

  /** `direct` decides which files are written past the page cache (fs/direct-write.ts); tests pin it. */
  constructor(
    private readonly root: string,
    private readonly special: SpecialFiles,
    private readonly direct: DirectPolicy = wantDirect,
  ) {}

  private abs(rel: string): string {
    return rel === "" ? this.root : join(this.root, rel);
  }

  private forgetUnder(rel: string): void {
    const under = (d: string) => d === rel || d.startsWith(rel + "/");
    for (const d of [...this.knownDirs]) if (under(d)) this.knownDirs.delete(d);
    for (const d of [...this.setgidDirs.keys()]) if (under(d)) this.setgidDirs.delete(d);
    for (const d of [...this.dirMeta.keys()]) if (under(d)) this.dirMeta.delete(d);
    for (const n of [...this.nodes.keys()]) if (under(n)) this.nodes.delete(n);
  }

  /** The group a new file at `rel` gets from the kernel: its directory's when that is set-group-ID. */
  private groupOfNew(rel: string): number {
    const slash = rel.lastIndexOf("/");
    return this.setgidDirs.get(slash === -1 ? "" : rel.slice(0, slash)) ?? this.egid;
  }

  /** Makes sure every parent of `rel` is a real directory, creating missing ones (0755, root). */
  private ensureParents(name: string, rel: string, create: boolean): void {
    let parent = "";
    for (const p of parentPaths(rel)) {
      if (!this.knownDirs.has(p)) {
        if (this.nodes.has(p)) throw unsafeEntry(name, `its parent ${JSON.stringify(p)} is a device node or whiteout`);
        const st = lstatOrNull(this.abs(p));
        if (st === null) {
          if (!create) throw unsafeEntry(name, `${JSON.stringify(p)} does not exist in the layer`);
          mkdirSync(this.abs(p), { mode: 0o755 });
          const inherited = this.setgidDirs.get(parent);
          if (inherited !== undefined) this.setgidDirs.set(p, inherited); // a new directory inherits the bit and the group
        } else if (st.isSymbolicLink()) {
          throw unsafeEntry(name, `its parent ${JSON.stringify(p)} is a symlink; writing through it could reach outside the layer`);
        } else if (!st.isDirectory()) {
          throw unsafeEntry(name, `its parent ${JSON.stringify(p)} is not a directory`);
        } else if (st.mode & SETGID) {
          this.setgidDirs.set(p, st.gid);
        }
        this.knownDirs.add(p);
      }
      parent = p;
    }
  }

  /** Removes whatever is at `rel` unless it is a directory and `keepDir` is set. Returns true when a directory was kept. */
  private clearPath(rel: string, keepDir: boolean): boolean {
    this.nodes.delete(rel);
    const st = lstatOrNull(this.abs(rel));
    if (st === null) return false;
    if (keepDir && st.isDirectory()) return true;
    this.forgetUnder(rel);
    rmSync(this.abs(rel), { recursive: true, force: true });
    return false;
  }

  private queueXattrs(name: string, rel: string, pax: Record<string, string> | null): void {
    if (!pax) return;
    for (const key of Object.keys(pax).sort()) {
      if (!key.startsWith(XATTR_PAX_PREFIX)) continue;
      const attr = key.slice(XATTR_PAX_PREFIX.length);
      const value = pax[key] ?? "";
      // PAX values are read as UTF-8: a binary value (e.g. security.capability) is not recoverable.
      if (value.includes("\uFFFD")) {
        this.result.skippedXattrs.push(`${rel || "/"}: ${attr}`);
        continue;
      }
      if (attr.startsWith("trusted.overlay.")) throw unsafeEntry(name, `it sets the overlay-internal xattr ${JSON.stringify(attr)}`);
      this.xattrs.push({ path: this.abs(rel), name: attr, value: Buffer.from(value, "utf8") });
    }
  }

  entry(h: TarHeader): void {
    // A large file's write failed (a full disk): stop here rather than at finish().
    if (this.writeFailure) throw this.writeFailure.error;
    const name = h.name;
    const rel = entryPath(name);
    this.result.entries++;
    const white = whiteoutOf(rel);
    if (white.kind === "ignored") return;
    if (white.kind === "opaque") {
      this.ensureParents(name, rel, true);
      if (white.dir !== "" && !this.clearPath(white.dir, true)) {
        mkdirSync(this.abs(white.dir), { mode: 0o755 });
        this.knownDirs.add(white.dir);
      }
      this.xattrs.push({ path: this.abs(white.dir), name: OPAQUE_XATTR, value: Buffer.from("y") });
      return;
    }
    if (white.kind === "whiteout") {
      this.ensureParents(name, white.target, true);
      this.clearPath(white.target, false);
      this.nodes.set(white.target, { node: { path: this.abs(white.target), kind: "char", major: 0, minor: 0 }, uid: 0, gid: 0, mode: 0o600 });
      return;
    }
    const { uid, gid, mtime } = h;
    const mode = h.mode & 0o7777;
    const target = this.abs(rel);
    if (rel === "") {
      if (h.type !== "directory") throw unsafeEntry(name, "only a directory may stand for the layer root");
      lchownSync(this.root, uid, gid);
      this.dirMeta.set("", { path: this.root, mode, mtime });
      this.queueXattrs(name, rel, h.pax);
      return;
    }
    this.ensureParents(name, rel, true);
    switch (h.type) {
      case "directory": {
        if (!this.clearPath(rel, true)) mkdirSync(target, { mode: 0o700 });
        lchownSync(target, uid, gid);
        chmodSync(target, mode);
        this.knownDirs.add(rel);
        if (mode & SETGID) this.setgidDirs.set(rel, gid);
        else this.setgidDirs.delete(rel);
        this.dirMeta.set(rel, { path: target, mode, mtime });
        break;
      }
      case "file":
      case "contiguous-file": {
        this.clearPath(rel, false);
        const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
        // A large file may go past the page cache (fs/direct-write.ts), where that is measured to be slow.
        const direct = this.direct(h.size) ? openDirect(target, flags, mode & 0o777) : null;
        const fd = direct ? direct.fd : openSync(target, flags, mode & 0o777);
        this.file = { fd, rel, header: h, direct, written: 0 };
        // Owner, mode and times are set once the content is in (entryEnd).
        break;
      }
      case "symlink": {
        this.clearPath(rel, false);
        symlinkSync(h.linkname, target);
        if (uid !== this.euid || gid !== this.groupOfNew(rel)) lchownSync(target, uid, gid);
        lutimesSync(target, mtime, mtime);
        break;
      }
      case "link": {
        const linkRel = hardLinkTarget(name, h.linkname);
        this.ensureParents(name, linkRel, false);
        if (this.nodes.has(linkRel)) throw unsafeEntry(name, `its hard link target ${JSON.stringify(linkRel)} is a device node or whiteout, which hard links cannot share here`);
        const st = lstatOrNull(this.abs(linkRel));
        if (st === null) throw unsafeEntry(name, `its hard link target ${JSON.stringify(h.linkname)} is not earlier in the layer`);
        if (st.isDirectory()) throw unsafeEntry(name, `its hard link target ${JSON.stringify(h.linkname)} is a directory`);
        if (linkRel === rel) break;
        this.clearPath(rel, false);
        linkSync(this.abs(linkRel), target);
        break;
      }
      case "character-device":
      case "block-device":
      case "fifo": {
        this.clearPath(rel, false);
        const kind = h.type === "fifo" ? "fifo" : h.type === "block-device" ? "block" : "char";
        this.nodes.set(rel, { node: { path: target, kind, major: h.devmajor, minor: h.devminor }, uid, gid, mode, mtime });
        break;
      }
      default:
        // Sparse files, volume labels and unknown types carry no file here; their content is skipped.
        return;
    }
    this.queueXattrs(name, rel, h.pax);
  }

  data(bytes: Buffer): void {
    if (!this.file) return; // content of an entry that is not a regular file
    const file = this.file;
    this.result.contentBytes += bytes.length;
    if (file.direct) return file.direct.write(bytes);
    writePlainSync(file.fd, bytes, file.written);
    file.written += bytes.length;
  }

  entryEnd(): void {
    const open = this.file;
    if (!open) return;
    this.file = undefined;
    const { fd, rel, header: h, direct } = open;
    const group = this.groupOfNew(rel);
    if (direct) {
      // Owner, mode and times once the last write is done (a write would change the mtime again).
      const done: Promise<void> = direct
        .end()
        .then(() => this.setFileMeta(fd, group, h))
        .catch((e: unknown) => {
          this.writeFailure ??= { error: e };
        })
        .finally(() => {
          closeSync(fd);
          this.writing.delete(done);
        });
      this.writing.add(done);
      return;
    }
    try {
      this.setFileMeta(fd, group, h);
    } finally {
      closeSync(fd);
    }
  }

  /** `group` is the one the file was created with (its folder's, when set-group-ID at the time). */
  private setFileMeta(fd: number, group: number, h: TarHeader): void {
    const mode = h.mode & 0o7777;
    if (h.uid !== this.euid || h.gid !== group) fchownSync(fd, h.uid, h.gid);
    // open() applied mode & ~umask; chown clears set-ID bits, and open() may drop them too.
    if (this.umask === null || (mode & this.umask) !== 0 || (mode & SPECIAL_BITS) !== 0) fchmodSync(fd, mode);
    futimesSync(fd, h.mtime, h.mtime);
  }

  /** Closes a file left open by a failure part-way, once no write of the layer is in flight. */
  async abort(): Promise<void> {
    const open = this.file;
    this.file = undefined;
    if (open) await closeAbandoning(open.fd, open.direct);
    await Promise.all(this.writing);
  }

  /** Waits for the large files' writes, makes the queued device nodes, whiteouts and xattrs, then sets directory modes and times. */
  async finish(): Promise<ExtractResult> {
    await Promise.all(this.writing);
    if (this.writeFailure) throw asStackError(this.writeFailure.error);
    const pending = [...this.nodes.keys()].sort().map((k) => this.nodes.get(k)!);
    await this.special.makeNodes(pending.map((p) => p.node));
    for (const p of pending) {
      lchownSync(p.node.path, p.uid, p.gid);
      chmodSync(p.node.path, p.mode);
      if (p.mtime !== undefined) utimesSync(p.node.path, p.mtime, p.mtime);
    }
    await this.special.setXattrs(this.xattrs);
    // Directory mtimes last, deepest first, so writing their children does not change them again.
    const dirs = [...this.dirMeta.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    for (const d of dirs) {
      const m = this.dirMeta.get(d)!;
      if (d === "") chmodSync(this.root, m.mode);
      utimesSync(m.path, m.mtime, m.mtime);
    }
    return this.result;
  }
}

/** Unpacks a tar stream into `root` (see LayerExtractor); the stream's own errors pass through. */
export async function extractLayer(input: Readable, root: string, special: SpecialFiles): Promise<ExtractResult> {
  const extractor = new LayerExtractor(root, special);
  const reader = new TarReader(extractor);
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) reader.push(chunk);
    reader.finish();
  } catch (e) {
    await extractor.abort();
    input.destroy();
    throw asStackError(e);
  }
  return extractor.finish();
}
