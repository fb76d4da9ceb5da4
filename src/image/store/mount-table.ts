// Which layer folders the host has mounted as overlay lowerdirs right now: a
// layer in use by a container's rootfs is never deleted under it.
import { readFile } from "node:fs/promises";

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

export const procMountTable: MountTable = {
  async overlayLowerdirs() {
    return lowerdirsFromMountinfo(await readFile("/proc/self/mountinfo", "utf8"));
  },
};
