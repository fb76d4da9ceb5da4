// Where a project's supervisor lives, and whether it answers: what every CLI
// command needs, without the daemon's own modules (server, supervisor, health,
// log rotation), which only the daemon loads.
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

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
