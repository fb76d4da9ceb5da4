// A RUN step's layer: the build container's overlay upper dir turned into
// layer entries. Overlayfs records a deletion as a character device 0/0 and
// a replaced folder as the xattr trusted.overlay.opaque=y; in the layer they
// become OCI whiteouts `.wh.NAME` and `DIR/.wh..wh..opq`. Hard links within
// the upper dir stay hard links. Mount points the runtime created for the
// step (/etc/hosts, a cache mount's target …) are left out when the image
// did not have them, as Docker does.
import { execFile } from "node:child_process";
import { lstatSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { join, posix } from "node:path";
import { promisify } from "node:util";
import type { LayeredFs } from "./layered-fs.js";
import type { LayerEntry } from "./layer-tar.js";

const run = promisify(execFile);

/** Folders under `root` marked opaque, as paths relative to it ("a/b"); one getfattr process for the whole tree. */
export async function opaqueDirs(root: string): Promise<Set<string>> {
  let out = "";
  try {
    ({ stdout: out } = await run("getfattr", ["-R", "-P", "--absolute-names", "-d", "-m", "^trusted\\.overlay\\.opaque$", root], { maxBuffer: 64 * 1024 * 1024 }));
  } catch (e) {
    // getfattr exits 1 when some file has no such attribute; its stdout still lists the ones that do.
    out = (e as { stdout?: string }).stdout ?? "";
  }
  const found = new Set<string>();
  let file: string | undefined;
  for (const line of out.split("\n")) {
    if (line.startsWith("# file: ")) file = line.slice(8);
    else if (file !== undefined && /^trusted\.overlay\.opaque="y"$/.test(line.trim())) {
      const rel = posix.relative(root, unescapeGetfattr(file));
      found.add(rel);
    }
  }
  return found;
}

/** getfattr escapes unusual bytes in names as \ooo. */
function unescapeGetfattr(name: string): string {
  return name.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export interface UpperDiffInput {
  upper: string;
  /** The image below the step, to tell created mount points from real content. */
  lower: LayeredFs;
  /** Mount destinations of the step's container (absolute). */
  mountPoints: string[];
}

export async function upperDiff(input: UpperDiffInput): Promise<LayerEntry[]> {
  const opaque = await opaqueDirs(input.upper);
  const mountPoints = new Set(input.mountPoints.map((m) => posix.normalize(m)));
  const ancestors = new Set<string>();
  for (const m of mountPoints) for (let p = posix.dirname(m); p !== "/"; p = posix.dirname(p)) ancestors.add(p);
  const entries: LayerEntry[] = [];
  const links = new Map<string, string>();

  // Returns whether anything under `rel` was kept (a created mount-point folder with nothing kept is dropped).
  const walk = (rel: string): LayerEntry[] => {
    const out: LayerEntry[] = [];
    const host = rel === "" ? input.upper : join(input.upper, rel);
    for (const name of readdirSync(host).sort()) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const abs = `/${path}`;
      const st = lstatSync(join(host, name));
      if (isWhiteout(st)) {
        out.push({ path: rel === "" ? `.wh.${name}` : `${rel}/.wh.${name}`, type: "file", mode: 0, uid: 0, gid: 0, mtime: st.mtime, content: Buffer.alloc(0) });
        continue;
      }
      const createdForMount = (mountPoints.has(abs) || ancestors.has(abs)) && input.lower.lstat(abs) === undefined;
      const base = { path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isDirectory()) {
        const children = walk(path);
        if (createdForMount && !opaque.has(path) && children.length === 0) continue;
        out.push({ ...base, type: "directory" });
        if (opaque.has(path)) out.push({ path: `${path}/.wh..wh..opq`, type: "file", mode: 0, uid: 0, gid: 0, mtime: st.mtime, content: Buffer.alloc(0) });
        out.push(...children);
        continue;
      }
      if (createdForMount && st.size === 0) continue;
      if (st.isSymbolicLink()) out.push({ ...base, type: "symlink", mode: 0o777, linkname: readlinkSync(join(host, name)) });
      else if (st.isFile()) {
        const key = `${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) out.push({ ...base, type: "link", linkname: first });
        else {
          if (st.nlink > 1) links.set(key, path);
          out.push({ ...base, type: "file", hostPath: join(host, name), size: st.size });
        }
      } else if (st.isFIFO()) out.push({ ...base, type: "fifo" });
      else if (st.isCharacterDevice() || st.isBlockDevice()) {
        out.push({ ...base, type: st.isCharacterDevice() ? "character-device" : "block-device", devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) });
      }
    }
    return out;
  };
  entries.push(...walk(""));
  return entries;
}
