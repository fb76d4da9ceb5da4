// Which layer folders are mounted as overlay lowerdirs right now, on the host
// or in a container's own mount namespace: a layer in use by a container's
// rootfs is never deleted under it.
import { readdir, readFile, readlink } from "node:fs/promises";

export interface MountTable {
  /** Every lowerdir of every overlay mount visible to this process. */
  overlayLowerdirs(): Promise<Set<string>>;
}

/** The lowerdirs named in mountinfo text (the super options after " - overlay "). Pure. */
export function lowerdirsFromMountinfo(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep === -1) continue;
    const [fstype, , superOptions] = line.slice(sep + 3).split(" ");
    if (fstype !== "overlay" || !superOptions) continue;
    for (const option of superOptions.split(",")) {
      if (!option.startsWith("lowerdir=")) continue;
      // mountinfo escapes space, tab, newline and backslash as octal.
      const value = option.slice("lowerdir=".length).replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      for (const dir of value.split(":")) if (dir) out.add(dir);
    }
  }
  return out;
}

/**
 * This process's mount table and that of one process of every other mount
 * namespace: a container whose OCI runtime mounted its overlay itself (a
 * foreground `stack run --rm`, docs/runtime.md) has it in its own namespace
 * only. Only `image rm` asks, so a walk of /proc is affordable.
 */
export const procMountTable: MountTable = {
  async overlayLowerdirs() {
    const out = lowerdirsFromMountinfo(await readFile("/proc/self/mountinfo", "utf8"));
    const seen = new Set<string>();
    try {
      seen.add(await readlink("/proc/self/ns/mnt"));
    } catch {
      // no namespace links: this table is all there is to read
    }
    for (const pid of (await readdir("/proc")).filter((e) => /^\d+$/.test(e)).sort((a, b) => Number(a) - Number(b))) {
      try {
        const ns = await readlink(`/proc/${pid}/ns/mnt`);
        if (seen.has(ns)) continue;
        seen.add(ns);
        for (const dir of lowerdirsFromMountinfo(await readFile(`/proc/${pid}/mountinfo`, "utf8"))) out.add(dir);
      } catch {
        // gone meanwhile, or not readable: not a container of ours
      }
    }
    return out;
  },
};
