// The read-only view of a project's containers, for the verbs that only look
// (`stack ps`): the same answers as the engine's statusOf(), from files alone.
//
// Opening the engine (wiring.ts) loads the network manager, the runtime with
// its OCI executor and mounter, the supervisor client and the progress
// renderer, and asks the supervisor three times (is it there, hello, status)
// plus once more for the watch state. `ps` of 100 containers needs none of
// that machinery: it reads
//   - the project's state.json and network.json (published ports),
//   - per container its handle.json, pid and exit files and the freezer state
//     of its cgroup (what the runtime's status() reads when it may test pids),
//   - the supervisor's status and file-watch state, asked on one connection
//     in one write (the socket absent or refusing means no supervisor runs).
// Nothing here writes, spawns or takes the project lock.
import { readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { SystemError } from "../errors.js";
import { processAlive } from "../fs/process-alive.js";
import { NetworkStateStore } from "../network/network-state.js";
import { ContainerCgroup, detectCgroupVersion, realCgroupFs } from "../runtime/cgroup.js";
import { statusFromFiles } from "../runtime/status-files.js";
import type { ContainerHandle } from "../runtime/container.js";
import type { ContainerStatus as SupervisedStatus, FileWatchStatus, ResponseFrame } from "../supervisor/protocol.js";
import { createFrameDecoder, encodeFrame, PROTOCOL_VERSION, toStackError } from "../supervisor/protocol.js";
import { supervisorPaths } from "../supervisor/paths.js";
import { composeStatus, type RuntimeView } from "./container-status.js";
import type { ContainerStatus } from "./ports.js";
import type { ProjectState } from "./state.js";

export interface StatusReaderOptions {
  project: string;
  stateDir: string;
  runDir: string;
  /** Where cgroupfs is mounted (default /sys/fs/cgroup, as the runtime's). */
  cgroupRoot?: string;
  /** Waits between looks for an exit file the monitor is about to write (default: a timer). */
  sleep?: (ms: number) => Promise<void>;
}

/** What the supervisor knows: per container id its status, and the services whose files are watched. */
export interface SupervisorView {
  statuses: Map<string, SupervisedStatus>;
  watched: Set<string>;
}

export interface ProjectStatus {
  statuses: ContainerStatus[];
  watched: Set<string>;
}

/**
 * Asks the project's supervisor for its container statuses and its file-watch
 * state, both requests written at once on one connection. No supervisor (no
 * socket, or nobody listening) is an empty view, as the engine's
 * runningSupervisor() answers; a supervisor without file watching (an error
 * for that request) watches nothing.
 */
export function querySupervisor(runDir: string, project: string, timeoutMs = 5000): Promise<SupervisorView> {
  const socketPath = supervisorPaths(runDir, project).socket;
  const empty = (): SupervisorView => ({ statuses: new Map(), watched: new Set() });
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let connected = false;
    let statuses: SupervisedStatus[] | undefined;
    let watched: Set<string> | undefined;
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve({ statuses: new Map((statuses ?? []).map((s) => [s.id, s])), watched: watched ?? new Set() });
    };
    const timer = setTimeout(() => finish(new SystemError(`the supervisor at ${socketPath} did not answer within ${timeoutMs} ms`, { hint: "see $STACK_RUN_DIR/<project>/supervisor.log; `stack down` stops it" })), timeoutMs);
    socket.setEncoding("utf8");
    const decode = createFrameDecoder<ResponseFrame>(
      (f) => {
        if (!("ok" in f)) return;
        if (f.seq === 1) {
          if (!f.ok) return finish(toStackError(f.error));
          statuses = f.result as SupervisedStatus[];
        } else if (f.seq === 2) {
          const w = f.ok ? (f.result as FileWatchStatus) : undefined;
          watched = new Set([...(w?.detached?.services ?? []), ...(w?.attached ?? [])]);
        }
        if (statuses && watched) finish();
      },
      () => {},
    );
    socket.on("data", (d: string) => decode(d));
    socket.once("connect", () => {
      connected = true;
      socket.write(encodeFrame({ op: "status", v: PROTOCOL_VERSION, seq: 1 }) + encodeFrame({ op: "fileWatchStatus", v: PROTOCOL_VERSION, seq: 2 }));
    });
    socket.once("error", (e) => {
      if (!connected) {
        clearTimeout(timer);
        settled = true;
        socket.destroy();
        resolve(empty()); // ENOENT, ECONNREFUSED: no supervisor runs
      } else finish(new SystemError(`cannot reach the supervisor at ${socketPath}: ${e.message}`, { hint: "run the command again", cause: e }));
    });
    socket.once("close", () => {
      if (connected) finish(new SystemError("the supervisor closed the connection", { hint: "see $STACK_RUN_DIR/<project>/supervisor.log" }));
    });
  });
}

/**
 * Statuses of the named recorded containers (in that order) and the watched
 * services: what the engine's statusOf() and the watch state answer, read
 * without opening the engine.
 */
export async function readProjectStatus(opts: StatusReaderOptions, state: ProjectState, names: string[]): Promise<ProjectStatus> {
  const supervisor = querySupervisor(opts.runDir, opts.project);
  // The query is in flight while the files are read; an unhandled rejection must not escape meanwhile.
  supervisor.catch(() => undefined);
  const ports = new NetworkStateStore(opts.stateDir).read(opts.project).ports;
  const cgroupRoot = opts.cgroupRoot ?? "/sys/fs/cgroup";
  const cgroupVersion = detectCgroupVersion(realCgroupFs, cgroupRoot);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const cgroupDeps = { fs: realCgroupFs, signal: () => undefined, sleep };
  const files = await Promise.all(names.map(async (name) => {
    const r = state.containers[name];
    const base = { name, service: r?.service ?? "", index: r?.index ?? 0 };
    if (!r) return { base, missing: true as const };
    const h = loadHandle(opts.stateDir, opts.project, r.id);
    if (!h) return { base, missing: true as const };
    const cgroup = new ContainerCgroup(cgroupDeps, cgroupRoot, h.project, h.id, cgroupVersion);
    return { base, id: r.id, rs: await runtimeStatus(h, cgroup, sleep) };
  }));
  const { statuses: supervised, watched } = await supervisor;
  const statuses = files.map((f): ContainerStatus => ("missing" in f ? { ...f.base, state: "missing" } : composeStatus(f.base, f.rs, supervised.get(f.id), ports)));
  return { statuses, watched };
}

/**
 * A container's state from its files, decided as the runtime decides it
 * (src/runtime/status-files.ts), with the times ps shows: the pid file's
 * mtime (started) and the exit file's (finished).
 */
export async function runtimeStatus(h: ContainerHandle, cgroup: ContainerCgroup, sleep: (ms: number) => Promise<void>): Promise<RuntimeView> {
  const s = await statusFromFiles(h, cgroup, processAlive, sleep);
  const started = mtimeOf(h.pidFile);
  const finished = s.status === "exited" ? mtimeOf(h.exitFile) : undefined;
  return {
    status: s.status,
    ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
    ...(s.oomKilled !== undefined ? { oomKilled: s.oomKilled } : {}),
    ...(started ? { startedAt: started } : {}),
    ...(finished ? { finishedAt: finished } : {}),
  };
}

/** The handle the runtime saved at create (handle.json); undefined when it is gone or unreadable. */
function loadHandle(stateDir: string, project: string, id: string): ContainerHandle | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, "projects", project, "containers", id, "handle.json"), "utf8")) as ContainerHandle;
  } catch {
    return undefined;
  }
}

function mtimeOf(path: string): string | undefined {
  return statSync(path, { throwIfNoEntry: false })?.mtime.toISOString();
}
