// The supervisor daemon: one per project, listening on
// $RUN/<project>/supervisor.sock with its pid in supervisor.pid. It re-adopts
// what the state file lists, and exits by itself once no container runs or
// waits for a restart and no client is attached, after `idleMs`.
import { closeSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConflictError } from "../errors.js";
import { readJson } from "../fs/atomic-write.js";
import type { Handoff } from "./client.js";
import { handoffFile, lockOwner, projectStateDir, socketAnswers, supervisorPaths } from "./paths.js";
import type { RuntimePort } from "./runtime-port.js";
import { createSupervisorServer, type ExtraOps, type RunHostPort } from "./server.js";
import { Supervisor } from "./supervisor.js";

export interface DaemonOptions {
  project: string;
  stateDir: string;
  runDir: string;
  runtime: RuntimePort;
  idleMs?: number;
  /** Called after every change of what the supervisor watches (the daemon's DNS refresh). */
  onChange?: () => void;
  /** Resolves once what onChange started is closed, before the daemon exits. */
  onClose?: () => Promise<void>;
  /** Keeps the daemon from stopping when idle (a detached file watch). */
  busy?: () => boolean;
  /** Extra socket operations (see server.ts). */
  extraOps?: ExtraOps;
  /** Serves warm `stack run`s (run-host.ts). */
  runHost?: RunHostPort;
}

/** Resolves when the daemon has stopped (idle or shutdown). */
export async function runDaemon(opts: DaemonOptions): Promise<void> {
  const paths = supervisorPaths(opts.runDir, opts.project);
  mkdirSync(paths.dir, { recursive: true });
  if (await socketAnswers(paths.socket)) throw new ConflictError(`a supervisor already serves project ${opts.project} on ${paths.socket}`, { hint: "use it, or stop it with `stack down`" });
  rmSync(paths.socket, { force: true });

  let clients = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => (stop = r));
  const checkIdle = () => {
    clearTimeout(idleTimer);
    if (clients === 0 && !supervisor.busy() && !opts.busy?.()) idleTimer = setTimeout(() => stop(), opts.idleMs ?? 3000);
  };
  const supervisor = new Supervisor({ project: opts.project, projectStateDir: projectStateDir(opts.stateDir, opts.project), runtime: opts.runtime, onChange: () => {
    checkIdle();
    opts.onChange?.();
  } });
  const server = createSupervisorServer({
    project: opts.project,
    supervisor,
    onShutdown: () => setImmediate(stop),
    ...(opts.extraOps ? { extraOps: opts.extraOps } : {}),
    ...(opts.runHost ? { runHost: opts.runHost } : {}),
    onClientsChanged: (n) => {
      clients = n;
      checkIdle();
    },
  });
  supervisor.resume();
  takeHandoff(supervisor, opts.stateDir, opts.project);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(paths.socket, () => resolve());
  });
  writeFileSync(paths.pidFile, `${process.pid}\n`);
  // Launched by a command that did not wait (`up -d`): the start lock names this daemon until it listens.
  if (lockOwner(paths.lock) === process.pid) rmSync(paths.lock, { force: true });
  checkIdle();
  const onSignal = () => stop();
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  await stopped;
  clearTimeout(idleTimer);
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  supervisor.close();
  server.close();
  await opts.onClose?.();
  // Only remove what is still ours (a successor may already have replaced them).
  if (existsSync(paths.pidFile) && readPid(paths.pidFile) === process.pid) {
    rmSync(paths.socket, { force: true });
    rmSync(paths.pidFile, { force: true });
  }
}

/**
 * Watches the containers a command started while no supervisor ran (the
 * handoff file, see SupervisorLaunch in client.ts), then closes the write
 * ends of their FIFOs that this daemon inherited from it: its own readers
 * hold the pipes now, and EOF must come when the container ends.
 */
function takeHandoff(supervisor: Supervisor, stateDir: string, project: string): void {
  const file = handoffFile(stateDir, project);
  let handoff: Handoff | undefined;
  try {
    handoff = readJson<Handoff | undefined>(file, undefined);
  } catch {
    handoff = undefined; // torn by an OS crash: those containers died with it
  }
  for (const { spec, startedAt } of handoff?.containers ?? []) supervisor.watch(spec, startedAt);
  rmSync(file, { force: true });
  const containers = join(projectStateDir(stateDir, project), "containers") + "/";
  let fds: string[] = [];
  try {
    fds = readdirSync("/proc/self/fd");
  } catch {
    return; // no /proc: nothing was inherited that we could name
  }
  for (const name of fds) {
    const fd = Number(name);
    if (fd < 3) continue;
    let target = "";
    try {
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue;
    }
    // Its own readers are read-only; the inherited ends are read-write.
    if (target.startsWith(containers) && target.endsWith(".fifo") && openedReadWrite(name)) closeSync(fd);
  }
}

function openedReadWrite(fd: string): boolean {
  try {
    const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
    return flags !== undefined && (parseInt(flags, 8) & 3) === 2;
  } catch {
    return false;
  }
}

function readPid(path: string): number {
  try {
    return Number(readFileSync(path, "utf8").trim());
  } catch {
    return 0;
  }
}

