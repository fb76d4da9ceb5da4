// A read-only view of a stack of unpacked layer folders as the container
// would see it, without mounting anything: a path is found in the top-most
// layer that has it, a whiteout (character device 0/0) hides it in the layers
// below, and an opaque directory (xattr trusted.overlay.opaque=y, read by the
// caller into `opaque`) hides the lower layers' content of that directory.
// COPY --from and the checks of a COPY destination read images through it.
import { lstatSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { join, posix } from "node:path";
import { resolveIn } from "./source-fs.js";

export interface LayeredEntry {
  /** The host path of the entry in the layer that provides it. */
  hostPath: string;
  stat: Stats;
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export class LayeredFs {
  /**
   * `layers`: folders, top-most first. `opaque`: the image paths (absolute,
   * "/a/b") of directories marked opaque, per layer index.
   */
  constructor(readonly layers: string[], private readonly opaque: Array<Set<string>> = []) {}

  /** The entry at `path` (absolute image path, symlinks not followed), or undefined. */
  lstat(path: string): LayeredEntry | undefined {
    const clean = posix.normalize(`/${path}`);
    if (clean === "/") {
      const top = this.layers[0];
      return top === undefined ? undefined : { hostPath: top, stat: lstatSync(top) };
    }
    for (let i = 0; i < this.layers.length; i++) {
      const host = join(this.layers[i]!, clean);
      const st = lstatOrUndefined(host);
      if (st) return isWhiteout(st) ? undefined : { hostPath: host, stat: st };
      // An opaque parent in this layer hides everything below it.
      if (this.hiddenBelow(i, clean)) return undefined;
    }
    return undefined;
  }

  private hiddenBelow(layer: number, path: string): boolean {
    const set = this.opaque[layer];
    if (!set || set.size === 0) return false;
    for (let p = posix.dirname(path); ; p = posix.dirname(p)) {
      if (set.has(p)) return true;
      if (p === "/") return false;
    }
  }

  /** The names in directory `path`, merged over the layers, sorted. */
  readdir(path: string): string[] {
    const clean = posix.normalize(`/${path}`);
    const names = new Set<string>();
    const hidden = new Set<string>();
    for (let i = 0; i < this.layers.length; i++) {
      const host = join(this.layers[i]!, clean);
      const st = lstatOrUndefined(host);
      if (st && !st.isDirectory()) break; // a file or whiteout here hides the lower directories
      if (st) {
        for (const name of readdirSync(host)) {
          if (names.has(name) || hidden.has(name)) continue;
          const child = lstatSync(join(host, name));
          if (isWhiteout(child)) hidden.add(name);
          else names.add(name);
        }
        if (this.opaque[i]?.has(clean)) break;
      } else if (this.hiddenBelow(i, clean)) break;
    }
    return [...names].sort();
  }

  readlink(path: string): string {
    const e = this.lstat(path);
    if (!e) throw Object.assign(new Error(`no such file: ${path}`), { code: "ENOENT" });
    return readlinkSync(e.hostPath);
  }

  /** Resolves symlinks inside the image (see resolveIn), the last component too when `followLast`. */
  resolve(path: string, followLast = true): string {
    return resolveIn(path, followLast, (p) => {
      const e = this.lstat(p);
      return e?.stat.isSymbolicLink() ? readlinkSync(e.hostPath) : undefined;
    });
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
