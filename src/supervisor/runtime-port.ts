// The narrow slice of the container runtime the supervisor needs. The
// supervisor never launches containers itself for the first time (the engine
// does); it asks the runtime for a container's state, to start it again (a
// restart policy), and to run a healthcheck command inside it.
//
// Process-model contract every implementation keeps (DESIGN.md "Processes"):
// a container runs under a detached monitor whose stdout/stderr are the FIFOs
// <dir>/stdout.fifo and <dir>/stderr.fifo; when the container ends, the
// monitor writes its exit status to <dir>/exit (temp file + rename) and then
// exits, so the FIFOs reach EOF for a reader once every writer is gone.
// `start` removes a previous <dir>/exit before it launches the monitor again.

export type RuntimeContainerStatus = "created" | "running" | "paused" | "exited" | "missing";

export interface RuntimeStatus {
  status: RuntimeContainerStatus;
  pid?: number;
  exitCode?: number;
  /** true when the kernel's OOM killer ended the container. */
  oomKilled?: boolean;
}

export interface ExecResult {
  /** The command's exit status; -1 when it timed out or could not run. */
  exitCode: number;
  /** stdout and stderr together, possibly truncated by the implementation. */
  output: string;
}

export interface RuntimePort {
  status(id: string): Promise<RuntimeStatus>;
  /** Starts the (exited) container again under a new monitor; resolves once it runs or already exited. */
  start(id: string): Promise<void>;
  /** Runs argv inside the running container; never rejects for a failing command, only for a broken runtime. */
  exec(id: string, argv: string[], options: { timeoutMs: number }): Promise<ExecResult>;
}
