// The container's root filesystem: an overlay of the image's layers (top-most
// first) with the container's own upper and work dirs. Describe, then
// execute: overlayMount() returns what to mount, a Mounter mounts it.
import { UnsupportedError } from "../errors.js";

export interface MountDescription {
  type: string;
  source: string;
  target: string;
  options: string[];
}

/** The kernel reads mount options from one page. */
const MAX_MOUNT_DATA = 4095;

export function overlayMount(lowerdirs: string[], upperdir: string, workdir: string, target: string): MountDescription {
  if (lowerdirs.length === 0) throw new UnsupportedError("an overlay rootfs needs at least one image layer", { hint: "the image has no layers; re-import or rebuild it" });
  for (const d of [...lowerdirs, upperdir, workdir]) {
    if (/[:,]/.test(d)) throw new UnsupportedError(`overlay path ${JSON.stringify(d)} contains ":" or ","`, { hint: "move STACK_STATE_DIR to a path without ':' or ','" });
  }
  const options = [`lowerdir=${lowerdirs.join(":")}`, `upperdir=${upperdir}`, `workdir=${workdir}`];
  const length = options.join(",").length;
  if (length > MAX_MOUNT_DATA) {
    throw new UnsupportedError(`the overlay mount options for ${lowerdirs.length} layers are ${length} bytes, over the kernel's ${MAX_MOUNT_DATA}`, {
      hint: "use a shorter STACK_STATE_DIR, or squash the image into fewer layers",
    });
  }
  return { type: "overlay", source: "overlay", target, options };
}
