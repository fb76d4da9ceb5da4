// The sync executor: applies a SyncPlan to one container's root filesystem.
// Two phases, so that a restart or exec that follows never sees a half-copied
// tree: first every file is copied to a temporary name in its destination
// directory (with the container user's uid/gid and the host file's mode),
// then removes and renames run back to back. A rename within one directory is
// atomic, so each file is either the old or the new one, never a prefix.
// New directories are made in the first phase (empty until the renames), and
// a file that becomes a directory is replaced there too, since the staged
// files below it need it.
import { randomBytes } from "node:crypto";
import { lstatSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { chmod, copyFile, lchown, lstat, mkdir, readdir, rm, symlink } from "node:fs/promises";
import { posix } from "node:path";
import { SystemError } from "../errors.js";
import type { PathFilter } from "./path-filter.js";
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
      const st = lstatSync(path); // many small calls: the thread pool round trip would cost more than the call
      if (st.isFile()) out.push({ path, type: "file", mode: st.mode & 0o7777 });
      else if (st.isDirectory()) out.push({ path, type: "dir", mode: st.mode & 0o7777 });
      else if (st.isSymbolicLink()) out.push({ path, type: "symlink", link: readlinkSync(path) });
      else out.push({ path, type: "other" });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") out.push({ path, type: "absent" });
      else throw new SystemError(`cannot read ${path}: ${(e as Error).message}`, { cause: e, hint: "check the file's permissions" });
    }
  }
  return out;
}

/**
 * The entries below each directory in `entries`, added to them. A file
 * watcher may miss files written into a directory in the moment between its
 * creation and the watch on it (chokidar does, under load), so a synced
 * directory is always synced with everything the filter accepts below it.
 */
export async function expandDirectories(entries: HostEntry[], filter: PathFilter): Promise<HostEntry[]> {
  const seen = new Set(entries.map((e) => e.path));
  const out = [...entries];
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return; // gone meanwhile: its own event (or its parent's) covers it
    }
    for (const name of names.sort()) {
      const child = posix.join(dir, name);
      if (seen.has(child)) continue;
      const [entry] = await readHostEntries([child]);
      if (entry === undefined || entry.type === "absent") continue;
      if (entry.type === "dir" && filter.prunes(child)) continue;
      if (filter.accepts(child)) {
        seen.add(child);
        out.push(entry);
      }
      if (entry.type === "dir") await walk(child);
    }
  };
  for (const e of entries) if (e.type === "dir") await walk(e.path);
  return out;
}

/** Copies in flight at once: enough to keep the disk busy, few enough for a shared machine. */
const COPY_CONCURRENCY = 8;

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

  // Parents are resolved (and made) one at a time, in plan order, so two
  // files never race to make the same directory; copies then run a few at once.
  const parents = new Map<string, string | undefined>();
  const parentOf = async (target: string): Promise<string | undefined> => {
    const key = posix.dirname(target);
    if (!parents.has(key)) parents.set(key, await resolveParent(rootfs, target, created));
    return parents.get(key);
  };
  try {
    const copies: { op: Extract<SyncPlan["ops"][number], { kind: "write" | "symlink" }>; tmp: string; final: string }[] = [];
    for (const op of plan.ops) {
      if (op.kind === "remove") {
        removes.push(op.target);
        continue;
      }
      const parent = await parentOf(op.target);
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
        } else {
          // A file becomes a directory: the files staged below need it now.
          await rm(final, { force: true });
          await mkdir(final, { mode: op.mode });
          await chmod(final, op.mode);
          await lchown(final, uid, gid);
          result.dirs++;
        }
        parents.set(op.target, final);
        continue;
      }
      copies.push({ op, tmp: tempName(parent, base), final });
    }
    const stageOne = async ({ op, tmp, final }: (typeof copies)[number]): Promise<void> => {
      if (op.kind === "write") {
        try {
          await copyFile(op.source, tmp);
        } catch (e) {
          // Deleted on the host since it was looked at: the container loses it too.
          if (isMissing(e) && (await lstatOrUndefined(op.source)) === undefined) {
            removes.push(op.target);
            return;
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
    };
    let next = 0;
    const worker = async () => {
      while (next < copies.length) await stageOne(copies[next++]!);
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(COPY_CONCURRENCY, copies.length) }, worker));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  } catch (e) {
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true })));
    throw new SystemError(`sync into ${root.container} failed: ${(e as Error).message}`, { cause: e, hint: "nothing of this batch was applied; the next change retries it" });
  }

  // The commit runs without yielding to the event loop: nothing else of
  // stack (a restart, an exec, the next batch) can start half-way through it.
  const lstatNow = (p: string) => {
    try {
      return lstatSync(p);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  };
  try {
    const removeHosts: string[] = [];
    for (const target of removes) {
      const host = await resolveInRootfs(rootfs, target);
      if (host !== undefined && host !== rootfs) removeHosts.push(host);
    }
    for (const host of removeHosts) {
      if (lstatNow(host) === undefined) continue;
      rmSync(host, { recursive: true, force: true });
      result.removed++;
    }
    staged.sort((a, b) => (a.final < b.final ? -1 : a.final > b.final ? 1 : 0));
    for (const { tmp, final } of staged) {
      try {
        renameSync(tmp, final);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") {
          rmSync(final, { recursive: true, force: true }); // a directory became a file
          renameSync(tmp, final);
        } else if (isMissing(e)) continue; // its directory went away with a remove of this same batch
        else throw e;
      }
      result.written++;
    }
  } catch (e) {
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true })));
    throw new SystemError(`sync into ${root.container} failed part-way: ${(e as Error).message}`, { cause: e, hint: "the next change to these files syncs them again" });
  }
  return result;
}
