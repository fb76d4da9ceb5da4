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

/**
 * `volatile` (Linux 5.10+): the overlay never syncs its upper dir's file
 * system, at unmount either (a sync of the host's disk otherwise, ~10–20 ms
 * of a container's removal here, more when the disk is busy). Only for a
 * container that is removed when it exits: after an OS crash a volatile
 * upper dir may be incomplete and the kernel refuses to mount it again.
 */
export function overlayMount(lowerdirs: string[], upperdir: string, workdir: string, target: string, options: { volatile?: boolean } = {}): MountDescription {
  if (lowerdirs.length === 0) throw new UnsupportedError("an overlay rootfs needs at least one image layer", { hint: "the image has no layers; re-import or rebuild it" });
  for (const d of [...lowerdirs, upperdir, workdir]) {
    if (/[:,]/.test(d)) throw new UnsupportedError(`overlay path ${JSON.stringify(d)} contains ":" or ","`, { hint: "move STACK_STATE_DIR to a path without ':' or ','" });
  }
  const data = [`lowerdir=${lowerdirs.join(":")}`, `upperdir=${upperdir}`, `workdir=${workdir}`, ...(options.volatile ? ["volatile"] : [])];
  const length = data.join(",").length;
  if (length > MAX_MOUNT_DATA) {
    throw new UnsupportedError(`the overlay mount options for ${lowerdirs.length} layers are ${length} bytes, over the kernel's ${MAX_MOUNT_DATA}`, {
      hint: "use a shorter STACK_STATE_DIR, or squash the image into fewer layers",
    });
  }
  return { type: "overlay", source: "overlay", target, options: data };
}
