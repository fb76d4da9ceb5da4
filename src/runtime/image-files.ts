// A file of an image's root filesystem read straight from its layer folders,
// the way overlayfs would show it, for a container whose overlay the OCI
// runtime mounts itself (see ContainerRuntime.create): nothing is mounted on
// the host then, and the user's /etc/passwd and /etc/group still have to be
// read before the spec is written.
//
// The layers are looked at top-most first. In a layer, a 0/0 character
// device is a whiteout (the path is gone), a non-directory where the path
// needs a directory hides everything below it, and a directory marked
// opaque (the `trusted.overlay.opaque` xattr, which Node cannot read) hides
// the same directory of every lower layer. So when a layer has some of the
// path's directories but not the file, and a lower layer has the file, the
// answer depends on an xattr: the reader says "unknown" and the caller
// mounts the overlay on the host instead. A layer's root folder never hides anything: overlayfs ignores
// the opaque mark there (checked by hand: a lowerdir root marked opaque
// still shows the lower layers' files). A symlink on the way is "unknown"
// too (resolving it inside the image is not worth the code for /etc/passwd).
import { lstatSync, readFileSync, type Stats } from "node:fs";
import { join } from "node:path";

export type LayeredFile = { kind: "file"; text: string } | { kind: "absent" } | { kind: "unknown"; why: string };

/** The file system calls the reader needs (tests pass a recording fake; the real ones by default). */
export interface LayerFs {
  lstat(path: string): Stats | undefined;
  readText(path: string): string;
}

export const realLayerFs: LayerFs = {
  lstat: (p) => lstatSync(p, { throwIfNoEntry: false }),
  readText: (p) => readFileSync(p, "utf8"),
};

/** `path` (relative to the image root, e.g. "etc/passwd") as the overlay of `lowerdirs` (top-most first) would show it. */
export function readLayeredFile(lowerdirs: readonly string[], path: string, fs: LayerFs = realLayerFs): LayeredFile {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0 || parts.includes("..")) return { kind: "unknown", why: `${JSON.stringify(path)} is not a plain path` };
  for (const [i, layer] of lowerdirs.entries()) {
    for (let depth = 1; depth <= parts.length; depth++) {
      const at = join(layer, ...parts.slice(0, depth));
      const st = fs.lstat(at);
      if (st === undefined) {
        // Missing at the top: this layer says nothing about the path. Missing below a
        // directory of this layer: that directory may be opaque, which matters only
        // when a lower layer has the file.
        if (depth === 1) break;
        const below = readLayeredFile(lowerdirs.slice(i + 1), path, fs);
        return below.kind === "absent" ? below : { kind: "unknown", why: `${join(layer, ...parts.slice(0, depth - 1))} may be an opaque directory` };
      }
      if (st.isCharacterDevice() && st.rdev === 0) return { kind: "absent" }; // a whiteout
      if (st.isSymbolicLink()) return { kind: "unknown", why: `${at} is a symbolic link` };
      if (depth < parts.length) {
        if (!st.isDirectory()) return { kind: "absent" };
        continue;
      }
      return st.isFile() ? { kind: "file", text: fs.readText(at) } : { kind: "absent" };
    }
  }
  return { kind: "absent" };
}
