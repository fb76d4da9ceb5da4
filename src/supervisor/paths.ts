// Where a project's supervisor lives, and whether it answers: what every CLI
// command needs, without the daemon's own modules (server, supervisor, health,
// log rotation), which only the daemon loads.
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { processAlive } from "../fs/process-alive.js";

export interface SupervisorPaths {
  dir: string;
  socket: string;
  pidFile: string;
  lock: string;
  log: string;
}

export function supervisorPaths(runDir: string, project: string): SupervisorPaths {
  const dir = join(runDir, project);
  return { dir, socket: join(dir, "supervisor.sock"), pidFile: join(dir, "supervisor.pid"), lock: join(dir, "supervisor.lock"), log: join(dir, "supervisor.log") };
}

export function projectStateDir(stateDir: string, project: string): string {
  return join(stateDir, "projects", project);
}

/**
 * Containers a command started while no supervisor ran (`up -d`), for the
 * next supervisor to watch when it boots (see "Deferred start" in
 * docs/supervisor.md).
 */
export function handoffFile(stateDir: string, project: string): string {
  return join(projectStateDir(stateDir, project), "supervisor-handoff.json");
}

/**
 * Whether the project's supervisor answers, waiting while one is starting:
 * the start lock is held by another live process (a command starting it, or
 * a daemon an `up -d` launched without waiting, which holds the lock until it
 * listens). A holder that died (a daemon that failed to boot) ends the wait.
 */
export async function supervisorAnswers(paths: SupervisorPaths, waitMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await socketAnswers(paths.socket)) return true;
    const owner = lockOwner(paths.lock);
    // A daemon removes the lock once it listens: a lock gone since the socket's check may mean it answers now.
    if (owner === 0 || (owner > 0 && !processAlive(owner))) return socketAnswers(paths.socket);
    if (owner === process.pid || Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pid in the start lock; 0 when there is no lock. An empty lock (a holder between its open and its write) reads as -1, alive. */
export function lockOwner(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return 0;
  }
  const pid = Number(text.trim());
  return pid > 0 ? pid : -1;
}

export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}
