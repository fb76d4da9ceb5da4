// One command changes a project at a time: a lock file `$RUN/<project>/lock`
// created with O_EXCL holding the owner's pid. A lock whose owner is dead (a
// killed command) is stale and taken over; a live owner makes the caller wait
// up to `waitMs`, then fail with a ConflictError naming the holder.
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ConflictError } from "../errors.js";
import { processAlive } from "../fs/process-alive.js";

export interface ProjectLock {
  release(): void;
}


export async function lockProject(runDir: string, project: string, command: string, waitMs = 30_000): Promise<ProjectLock> {
  const dir = join(runDir, project);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "lock");
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, `${process.pid} ${command}\n`);
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          rmSync(path, { force: true });
          try {
            rmdirSync(dir); // gone with the project's last file (`down`); kept while anything else is in it
          } catch {
            // not empty
          }
        },
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        mkdirSync(dir, { recursive: true }); // the last holder removed the empty folder
        continue;
      }
      if (code !== "EEXIST") throw e;
    }
    let holder = "";
    try {
      holder = readFileSync(path, "utf8").trim();
    } catch {
      continue; // released between our open and read
    }
    const pid = Number(holder.split(" ")[0]);
    if (!processAlive(pid)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new ConflictError(`project "${project}" is busy: \`${holder.split(" ").slice(1).join(" ")}\` (pid ${pid}) is changing it`, {
        hint: "wait for that command to finish, or stop it",
      });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
