// A container's status from the files its monitor and the OCI runtime leave
// (the pid file runc writes at start, the exit file the monitor writes when
// `run` returns) and its cgroup's freezer and OOM counters: no process.
// Shared by the runtime and by `stack ps`'s read-only path, which must not
// load the rest of the runtime.
import { existsSync, readFileSync } from "node:fs";

export interface FileStatus {
  status: "created" | "running" | "paused" | "exited";
  exitCode?: number;
  oomKilled?: boolean;
  pid?: number;
}

export interface StatusFiles {
  pidFile: string;
  exitFile: string;
}

export interface StatusCgroup {
  oomKills(): number;
  frozen(): boolean;
}

export async function statusFromFiles(h: StatusFiles, cgroup: StatusCgroup, alive: (pid: number) => boolean, sleep: (ms: number) => Promise<void>): Promise<FileStatus> {
  if (existsSync(h.exitFile)) {
    const exitCode = readExit(h.exitFile);
    return { status: "exited", exitCode, oomKilled: exitCode === 137 && cgroup.oomKills() > 0 };
  }
  // Tested before it is read: a failed read costs an exception (~0.1 ms here, 100 of them in a `ps`).
  const pid = existsSync(h.pidFile) ? readPidFile(h.pidFile) : undefined;
  if (pid === undefined) return { status: "created" };
  if (!alive(pid)) {
    // A dead pid without an exit file: the monitor is about to write it.
    for (let i = 0; i < 100 && !existsSync(h.exitFile); i++) await sleep(5);
    return existsSync(h.exitFile) ? statusFromFiles(h, cgroup, alive, sleep) : { status: "exited" };
  }
  return { status: cgroup.frozen() ? "paused" : "running", pid };
}

/** The recorded exit status; -1 when the file holds something else. */
export function readExit(file: string): number {
  const n = Number(readFileSync(file, "utf8").trim());
  return Number.isInteger(n) ? n : -1;
}

/** The pid runc wrote; undefined when there is none (yet). */
export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
