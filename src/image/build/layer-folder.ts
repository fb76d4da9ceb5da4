// A COPY layer's folder written in the same pass as its tar: the layer store
// would otherwise read the tar back and unpack it, one async call per file.
// Only plain entries are written this way (files, folders, symlinks, hard
// links of earlier files), each below a folder of the same layer; anything
// else — device nodes, FIFOs, names that mean whiteouts in a layer, an entry
// below a symlink — goes through the store's unpacker, which knows them and
// checks hostile input (canWriteFolder says which way).
import { chmodSync, chownSync, closeSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lutimesSync, mkdirSync, openSync, symlinkSync, utimesSync, writeSync } from "node:fs";
import { join } from "node:path";
import { InternalError } from "../../errors.js";
import { tarSeconds, type LayerEntry, type LayerSink } from "./layer-tar.js";

/** Whether `entries` can be written straight into a folder (see the top of this file). */
export function canWriteFolder(entries: LayerEntry[]): boolean {
  const dirs = new Set<string>([""]);
  const seen = new Set<string>();
  const files = new Set<string>();
  for (const e of entries) {
    const parts = e.path.split("/");
    if (e.path === "" || seen.has(e.path) || parts.some((p) => p === "" || p === "." || p === ".." || p.startsWith(".wh."))) return false;
    if (!dirs.has(parts.slice(0, -1).join("/"))) return false;
    seen.add(e.path);
    if (e.type === "directory") dirs.add(e.path);
    else if (e.type === "file") files.add(e.path);
    else if (e.type === "link") {
      if (e.linkname === undefined || !files.has(e.linkname)) return false;
    } else if (e.type !== "symlink") return false;
  }
  return true;
}

/** Writes the entries it is given into `root` with their modes, owners and mtimes (whole seconds, as in the tar). */
export class LayerFolderWriter implements LayerSink {
  private fd: number | undefined;
  private readonly dirs: LayerEntry[] = [];

  constructor(private readonly root: string) {}

  begin(e: LayerEntry): void {
    const path = join(this.root, e.path);
    const t = tarSeconds(e.mtime);
    switch (e.type) {
      case "directory":
        // Modes, owner and mtime once its content is written (a new child moves a folder's mtime).
        mkdirSync(path, { mode: 0o700 });
        this.dirs.push(e);
        return;
      case "file":
        this.fd = openSync(path, "wx", 0o600);
        return;
      case "symlink":
        symlinkSync(e.linkname ?? "", path);
        lchownSync(path, e.uid, e.gid);
        lutimesSync(path, t, t);
        return;
      case "link":
        linkSync(join(this.root, e.linkname ?? ""), path);
        return;
      default:
        throw new InternalError(`a ${e.type} cannot be written into a layer folder (${e.path}); canWriteFolder() should have said so`);
    }
  }

  data(piece: Buffer): void {
    for (let done = 0; done < piece.length; ) done += writeSync(this.fd!, piece, done, piece.length - done);
  }

  end(e: LayerEntry): void {
    if (e.type !== "file") return;
    const fd = this.fd!;
    const t = tarSeconds(e.mtime);
    // Owner before mode: a chown clears setuid and setgid.
    fchownSync(fd, e.uid, e.gid);
    fchmodSync(fd, e.mode & 0o7777);
    futimesSync(fd, t, t);
    this.fd = undefined;
    closeSync(fd);
  }

  /** Gives the folders their metadata, deepest first. */
  finish(): void {
    for (let i = this.dirs.length - 1; i >= 0; i--) {
      const e = this.dirs[i]!;
      const path = join(this.root, e.path);
      const t = tarSeconds(e.mtime);
      chownSync(path, e.uid, e.gid);
      chmodSync(path, e.mode & 0o7777);
      utimesSync(path, t, t);
    }
  }

  /** Closes a file left open by a failure. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
