// Container paths → host paths under a container's root filesystem, resolved
// the way the kernel would resolve them inside the container: a symbolic link
// met on the way (`/app → /srv/app`, `../etc`) is followed relative to the
// container's root, never to the host's, so a sync can never write outside
// the rootfs. The last component is not followed (a sync replaces a link, it
// does not write through it).
import { lstat, mkdir, readlink, lchown } from "node:fs/promises";
import { posix } from "node:path";
import { SystemError } from "../errors.js";

const MAX_LINKS = 40; // as the kernel's ELOOP limit

export interface CreateParents {
  uid: number;
  gid: number;
  /** Called with each directory that had to be made. */
  created?: (hostPath: string) => void;
}

/** Host path of the parent directory of `containerPath`, resolved inside `rootfs`; with `create`, missing directories are made. Undefined when a parent is missing (and not created). */
export async function resolveParent(rootfs: string, containerPath: string, create?: CreateParents): Promise<string | undefined> {
  const pending = posix.normalize(containerPath).split("/").filter((s) => s !== "" && s !== ".");
  pending.pop();
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const seg = pending.shift()!;
    if (seg === "..") {
      resolved.pop();
      continue;
    }
    const host = posix.join(rootfs, ...resolved, seg);
    let st;
    try {
      st = await lstat(host);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      if (create === undefined) return undefined;
      await mkdir(host, { mode: 0o755 });
      await lchown(host, create.uid, create.gid);
      create.created?.(host);
      resolved.push(seg);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new SystemError(`cannot resolve ${containerPath} in ${rootfs}: too many levels of symbolic links`, { hint: "check the links in the container's filesystem" });
      const link = await readlink(host);
      const parts = link.split("/").filter((s) => s !== "" && s !== ".");
      if (link.startsWith("/")) resolved.length = 0;
      pending.unshift(...parts);
      continue;
    }
    if (!st.isDirectory()) {
      if (create === undefined) return undefined;
      throw new SystemError(`cannot sync to ${containerPath}: /${[...resolved, seg].join("/")} is a file in the container, not a directory`, {
        hint: "remove it in the container (stack exec), or sync the directory that replaces it",
      });
    }
    resolved.push(seg);
  }
  return posix.join(rootfs, ...resolved);
}

/** Host path of `containerPath` itself (last component not followed); undefined when a parent is missing. */
export async function resolveInRootfs(rootfs: string, containerPath: string): Promise<string | undefined> {
  const parent = await resolveParent(rootfs, containerPath);
  if (parent === undefined) return undefined;
  const base = posix.basename(posix.normalize(containerPath));
  return base === "" || base === "/" ? parent : posix.join(parent, base);
}
