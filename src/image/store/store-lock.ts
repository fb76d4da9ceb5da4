// The image store's lock: held only while the refs (index.json) are read,
// changed and written, and while the content of a removed image is swept, so
// imports stream and unpack in parallel and serialise only their commit. The
// lock file holds the owner's pid; a dead owner's lock is taken over.
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { ConflictError } from "../../errors.js";
import { processAlive } from "../../fs/process-alive.js";


/**
 * Removes a dead holder's lock without ever removing a live one: the file is
 * moved aside atomically, and put back when what was moved is not the lock we
 * judged stale (another waiter took over first and a new holder created it).
 */
async function takeOverStale(path: string, deadPid: number): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  const moved = Number((await readFile(aside, "utf8").catch(() => "")).trim());
  if (moved !== deadPid) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}

/** Runs `critical` while holding the lock file `path`; waits up to `waitMs` for another holder. */
export async function withStoreLock<T>(path: string, critical: () => Promise<T>, waitMs = 60_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    let fh;
    try {
      fh = await open(path, "wx", 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    if (fh) {
      try {
        await fh.write(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      try {
        return await critical();
      } finally {
        await rm(path, { force: true });
      }
    }
    const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
    // An empty file is a holder between open and write: wait for it like a live one.
    if (holder > 0 && !processAlive(holder)) {
      await takeOverStale(path, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new ConflictError(`the image store is locked by pid ${holder || "?"} (${path})`, { hint: "another stack command is changing images; wait for it, or stop it" });
    }
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
  }
}
