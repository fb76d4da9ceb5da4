// The sync executor: applies a SyncPlan to one container's root filesystem.
// Two phases, so that a restart or exec that follows never sees a half-copied
// tree: first every file is copied to a temporary name in its destination
// directory (with the container user's uid/gid and the host file's mode),
// then removes and renames run back to back. A rename within one directory is
// atomic, so each file is either the old or the new one, never a prefix.
import { randomBytes } from "node:crypto";
import { chmod, copyFile, lchown, lstat, mkdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { posix } from "node:path";
import { SystemError } from "../errors.js";
import type { ContainerRoot } from "./ports.js";
import { resolveInRootfs, resolveParent } from "./rootfs-path.js";
import type { HostEntry, SyncPlan } from "./sync-plan.js";

export interface SyncResult {
  /** Files and links written. */
  written: number;
  /** Paths removed. */
  removed: number;
  /** Directories made (asked for or needed as parents). */
  dirs: number;
}

/** The current state of each host path (lstat, links not followed). */
export async function readHostEntries(paths: Iterable<string>): Promise<HostEntry[]> {
  const out: HostEntry[] = [];
  for (const path of [...new Set(paths)].sort()) {
    try {
      const st = await lstat(path);
      if (st.isFile()) out.push({ path, type: "file", mode: st.mode & 0o7777 });
      else if (st.isDirectory()) out.push({ path, type: "dir", mode: st.mode & 0o7777 });
      else if (st.isSymbolicLink()) out.push({ path, type: "symlink", link: await readlink(path) });
      else out.push({ path, type: "other" });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") out.push({ path, type: "absent" });
      else throw new SystemError(`cannot read ${path}: ${(e as Error).message}`, { cause: e, hint: "check the file's permissions" });
    }
  }
  return out;
}

const tempName = (dir: string, base: string) => posix.join(dir, `.${base}.stack-sync-${randomBytes(6).toString("hex")}`);

const isMissing = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
};

async function lstatOrUndefined(p: string) {
  try {
    return await lstat(p);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

export async function applySync(plan: SyncPlan, root: ContainerRoot): Promise<SyncResult> {
  const { rootfs, uid, gid } = root;
  const result: SyncResult = { written: 0, removed: 0, dirs: 0 };
  const created = { uid, gid, created: () => void result.dirs++ };
  const staged: { tmp: string; final: string }[] = [];
  const removes: string[] = [];
  const replaceWithDir: { final: string; mode: number }[] = [];

  try {
    for (const op of plan.ops) {
      if (op.kind === "remove") {
        removes.push(op.target);
        continue;
      }
      const parent = await resolveParent(rootfs, op.target, created);
      const base = posix.basename(op.target);
      if (parent === undefined || base === "") continue;
      const final = posix.join(parent, base);
      if (op.kind === "mkdir") {
        const st = await lstatOrUndefined(final);
        if (st === undefined) {
          await mkdir(final, { mode: op.mode });
          await chmod(final, op.mode); // mkdir's mode passes through the umask
          await lchown(final, uid, gid);
          result.dirs++;
        } else if (st.isDirectory()) {
          if ((st.mode & 0o7777) !== op.mode) await chmod(final, op.mode);
        } else replaceWithDir.push({ final, mode: op.mode });
        continue;
      }
      const tmp = tempName(parent, base);
      if (op.kind === "write") {
        try {
          await copyFile(op.source, tmp);
        } catch (e) {
          // Deleted on the host since it was looked at: the container loses it too.
          if (isMissing(e) && (await lstatOrUndefined(op.source)) === undefined) {
            removes.push(op.target);
            continue;
          }
          throw e;
        }
        staged.push({ tmp, final });
        await chmod(tmp, op.mode);
        await lchown(tmp, uid, gid);
      } else {
        await symlink(op.link, tmp);
        staged.push({ tmp, final });
        await lchown(tmp, uid, gid);
      }
    }
  } catch (e) {
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true })));
    throw new SystemError(`sync into ${root.container} failed: ${(e as Error).message}`, { cause: e, hint: "nothing of this batch was applied; the next change retries it" });
  }

  try {
    for (const target of removes) {
      const host = await resolveInRootfs(rootfs, target);
      if (host === undefined || host === rootfs) continue;
      if ((await lstatOrUndefined(host)) === undefined) continue;
      await rm(host, { recursive: true, force: true });
      result.removed++;
    }
    for (const { final, mode } of replaceWithDir) {
      await rm(final, { recursive: true, force: true });
      await mkdir(final, { mode });
      await chmod(final, mode);
      await lchown(final, uid, gid);
      result.dirs++;
    }
    for (const { tmp, final } of staged) {
      const st = await lstatOrUndefined(final);
      if (st?.isDirectory()) await rm(final, { recursive: true, force: true });
      try {
        await rename(tmp, final);
        result.written++;
      } catch (e) {
        if (!isMissing(e)) throw e; // its directory went away with a remove of this same batch
      }
    }
  } catch (e) {
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true })));
    throw new SystemError(`sync into ${root.container} failed part-way: ${(e as Error).message}`, { cause: e, hint: "the next change to these files syncs them again" });
  }
  return result;
}
