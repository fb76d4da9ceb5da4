// The supervisor's socket protocol, version 1: newline-delimited JSON over
// $RUN/<project>/supervisor.sock. The client sends requests; the supervisor
// answers each with one response, or — for `logs` and `events` — with stream
// items ending in an `end` (logs without follow) or lasting until the client
// closes the connection. `seq` pairs answers with requests on a connection.
import { ConflictError, InternalError, InvalidInputError, NotFoundError, SystemError, UnsupportedError, type ErrorCategory, type StackError } from "../errors.js";
import type { HealthSpec, HealthState, HealthStatus } from "./health.js";
import type { LogLine } from "./log-record.js";
import type { RotationSpec } from "./log-rotation.js";
import type { RestartSpec } from "./restart-policy.js";

export { PROTOCOL_VERSION } from "./protocol-version.js";

/** What the engine tells the supervisor about a container it started. */
export interface SupervisedContainer {
  id: string;
  service: string;
  /** Replica number, 1-based. */
  index: number;
  /** The container's folder: stdout.fifo, stderr.fifo and exit live here; logs go to <dir>/logs. */
  dir: string;
  restart: RestartSpec;
  healthcheck?: HealthSpec;
  logging: RotationSpec;
}

export type ContainerPhase = "running" | "restarting" | "exited" | "stopped";

export interface ContainerStatus {
  id: string;
  service: string;
  index: number;
  state: ContainerPhase;
  /** undefined when the container has no healthcheck. */
  health?: HealthStatus;
  failingStreak?: number;
  healthLog?: HealthState["log"];
  exitCode?: number;
  oomKilled?: boolean;
  restarts: number;
  /** RFC 3339 */
  startedAt?: string;
  finishedAt?: string;
}

export type SupervisorEventType = "start" | "die" | "oom" | "restart" | "health_status" | "stop";

export interface SupervisorEvent {
  /** RFC 3339 with nanoseconds */
  t: string;
  type: SupervisorEventType;
  id: string;
  service: string;
  exitCode?: number;
  health?: HealthStatus;
  /** restart: the delay waited before it. */
  delayMs?: number;
}

export interface LogsRequestArgs {
  services?: string[];
  follow: boolean;
  tail?: number;
  /** RFC 3339 bounds (see parseTimeBound). */
  since?: string;
  until?: string;
}

export type Request =
  | { op: "hello" }
  | { op: "adopt"; containers: SupervisedContainer[] }
  | { op: "watch"; container: SupervisedContainer }
  /** The user stops these (stop, down): their exit is not restarted. */
  | { op: "stopping"; ids: string[] }
  | { op: "forget"; id: string }
  | { op: "status" }
  | ({ op: "logs" } & LogsRequestArgs)
  | { op: "events" }
  | { op: "shutdown" }
  /** Live rebuild (file-watch.ts): a detached watch run by the supervisor, and attached ones registered for `ps`. */
  | { op: "fileWatchStart"; spec: FileWatchSpec }
  | { op: "fileWatchStop" }
  | { op: "fileWatchStatus" }
  /** An attached `stack watch` / `up --watch`: its services count as watched while this connection lasts. */
  | { op: "fileWatchAttach"; services: string[] }
  /** A warm `stack run` (run-host.ts): answered by a RunItem stream and one result; see RunRequest. */
  | RunRequest
  /** The client's stdin for the run on this connection (base64), or its end; no answer. */
  | { op: "runInput"; data?: string; end?: boolean }
  /** A signal the client received (SIGINT, SIGTERM, SIGHUP), for the run on this connection; no answer. */
  | { op: "runSignal"; signal: string };

/**
 * `stack run` handed off by a client (src/cli/run-handoff.ts): its command
 * line (what follows `bin/stack`), working directory and environment, and
 * whether its stdout/stderr are terminals. The supervisor answers with
 * `{item: {accepted: true}}` once it serves it (or a result `{fallback:
 * reason}`: the client runs it locally), then `{item: {fd, data}}` output
 * (base64; fd 1 or 2), then the result `{exitCode}`. A client that closes
 * the connection before the result gets its container stopped.
 */
export interface RunRequest {
  op: "run";
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  stdio?: { stdout: boolean; stderr: boolean; columns?: number };
}

export type RunItem = { accepted: true } | { fd: 1 | 2; data: string };

/**
 * What the supervisor needs to watch on its own: how the CLI loaded the stack
 * (so the daemon loads the same model) and what to watch.
 */
export interface FileWatchSpec {
  /** The stack files as loaded (absolute; stdin cannot be read again). */
  files: string[];
  cwd: string;
  env: Record<string, string>;
  projectName: string;
  projectDirectory: string;
  profiles: string[];
  envFiles: string[];
  /** Services to watch; all with rules when empty. */
  services: string[];
  rebuildOnChange: boolean;
  /** Registry settings for a FROM image that a rebuild has to pull. */
  registry?: { authFile?: string; certsDir?: string; insecure?: string[] };
}

export interface FileWatchStatus {
  /** The detached watch, when one runs. */
  detached?: { services: string[]; since: string };
  /** Services watched by attached CLIs. */
  attached: string[];
}

export type RequestFrame = Request & { v: number; seq: number };

export interface HelloResult {
  version: number;
  project: string;
  pid: number;
}

export interface WireError {
  category: ErrorCategory;
  message: string;
  hint?: string;
}

const errorClasses = { "invalid-input": InvalidInputError, "not-found": NotFoundError, conflict: ConflictError, unsupported: UnsupportedError, system: SystemError, internal: InternalError };

/** The error a wire error stands for, in the client's process. */
export function toStackError(e: WireError): StackError {
  const Class = errorClasses[e.category] ?? InternalError;
  return new Class(e.message, { hint: e.hint });
}

export type ResponseFrame =
  | { v: number; seq: number; ok: true; result: unknown }
  | { v: number; seq: number; ok: false; error: WireError }
  | { v: number; seq: number; item: LogLine | SupervisorEvent | RunItem }
  | { v: number; seq: number; end: true };

export function encodeFrame(frame: RequestFrame | ResponseFrame): string {
  return JSON.stringify(frame) + "\n";
}

/**
 * Splits incoming bytes into frames. Returns a push function; a line that is
 * not JSON is reported through onBad and skipped (the connection lives on).
 */
export function createFrameDecoder<T>(onFrame: (f: T) => void, onBad: (line: string, why: string) => void, maxLine = 16 * 1024 * 1024): (chunk: string) => void {
  let pending = "";
  return (chunk) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        onBad(line, (e as Error).message);
        continue;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) onBad(line, "a frame is a JSON object");
      else onFrame(value as T);
    }
    if (pending.length > maxLine) {
      onBad(pending.slice(0, 80), `frame longer than ${maxLine} bytes`);
      pending = "";
    }
  };
}
