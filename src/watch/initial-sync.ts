// initial_sync: at start, the host paths of a rule whose copy in the container
// is missing or differs (type, mode, link target, or content). Files only in
// the container are left alone: they may come from the image.
import { open, lstat, readdir, readlink } from "node:fs/promises";
import { posix } from "node:path";
import type { PathFilter } from "./path-filter.js";
import { resolveInRootfs } from "./rootfs-path.js";
import { containerPathOf } from "./sync-plan.js";

export interface InitialSyncRule {
  path: string;
  target: string;
  filter: PathFilter;
}

async function sameContent(a: string, b: string, size: number): Promise<boolean> {
  if (size === 0) return true;
  const [fa, fb] = await Promise.all([open(a, "r"), open(b, "r")]);
  try {
    const chunk = Math.min(size, 1 << 16);
    const ba = Buffer.alloc(chunk);
    const bb = Buffer.alloc(chunk);
    for (let pos = 0; pos < size; pos += chunk) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, chunk, pos), fb.read(bb, 0, chunk, pos)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
      if (ra.bytesRead === 0) break;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

async function differs(hostPath: string, containerHost: string | undefined): Promise<boolean> {
  if (containerHost === undefined) return true;
  const [h, c] = await Promise.all([lstat(hostPath), lstat(containerHost).catch(() => undefined)]);
  if (c === undefined) return true;
  if (h.isDirectory()) return !c.isDirectory() || (h.mode & 0o7777) !== (c.mode & 0o7777);
  if (h.isSymbolicLink()) return !c.isSymbolicLink() || (await readlink(hostPath)) !== (await readlink(containerHost));
  if (!h.isFile()) return false; // fifos and sockets are never synced
  if (!c.isFile() || h.size !== c.size || (h.mode & 0o7777) !== (c.mode & 0o7777)) return true;
  return !(await sameContent(hostPath, containerHost, h.size));
}

/** Host paths under the rule that differ from the container's copy, sorted. */
export async function findOutOfSync(rule: InitialSyncRule, rootfs: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (hostPath: string, isRoot: boolean): Promise<void> => {
    const st = await lstat(hostPath).catch(() => undefined);
    if (st === undefined) return;
    if (!isRoot && !rule.filter.accepts(hostPath) && !st.isDirectory()) return;
    const target = containerPathOf(rule, hostPath)!;
    const accepted = isRoot || rule.filter.accepts(hostPath);
    if (accepted && (await differs(hostPath, await resolveInRootfs(rootfs, target)))) out.push(hostPath);
    if (!st.isDirectory()) return;
    const entries = await readdir(hostPath).catch(() => [] as string[]);
    for (const name of entries.sort()) {
      const child = posix.join(hostPath, name);
      const cst = await lstat(child).catch(() => undefined);
      if (cst?.isDirectory() && rule.filter.prunes(child)) continue;
      await visit(child, false);
    }
  };
  await visit(rule.path, true);
  return out;
}
