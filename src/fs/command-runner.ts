// The narrow process interface (the runtime and network layers): run a command to its
// end, or start one detached (its own session, not our child in any way that
// matters: it survives us).
//
// Plain node:child_process rather than execa here: this runner is on every
// container's start and stop path, where execa cost a ~120-module import on
// first use (0.2-0.5 s on a loaded 2-core machine) and ~10 ms more per spawn
// than spawn() itself (its signal and cleanup hooks), measured side by side;
// what the runtime needs of it is only exit code, output, input and a timeout.
import { spawn } from "node:child_process";
import os from "node:os";

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  run(argv: string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /**
   * Runs with the caller's stdin/stdout/stderr (interactive exec); resolves
   * with the exit code. With `forwardSignals`, the command runs in a session
   * of its own (a Ctrl-C at the terminal then reaches this process only) and
   * SIGINT, SIGTERM and SIGHUP sent to this process are passed on to it while
   * it runs; a second SIGINT or SIGTERM calls `onRepeat` instead when given.
   */
  runInherit(argv: string[], options?: { forwardSignals?: boolean; onRepeat?: () => void }): Promise<number>;
  /** setsid + spawn with the given fds as stdout/stderr and /dev/null as stdin; returns the pid. */
  spawnDetached(argv: string[], stdio: { stdout: number; stderr: number }): number;
}

export const realCommandRunner: CommandRunner = {
  run(argv, options = {}) {
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on("data", (b: Buffer) => out.push(b));
      child.stderr!.on("data", (b: Buffer) => err.push(b));
      const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGTERM"), options.timeoutMs);
      let failed: Error | undefined;
      child.on("error", (e) => (failed = e)); // cannot start (ENOENT, EACCES): "close" follows
      if (options.input !== undefined) {
        child.stdin!.on("error", () => undefined); // a command that exits without reading all its input
        child.stdin!.end(options.input);
      }
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        const stderr = Buffer.concat(err).toString("utf8");
        resolve({
          exitCode: failed ? -1 : code ?? (signal ? 128 : -1), // a failed spawn closes with the errno as "code"
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: failed ? `${stderr}${stderr ? "\n" : ""}${argv[0]}: ${failed.message}` : stderr,
        });
      });
    });
  },
  runInherit(argv, options = {}) {
    return new Promise((resolve) => {
      const forward = options.forwardSignals === true;
      const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit", detached: forward });
      let failed = false;
      let received = 0;
      const handlers = forward
        ? FORWARDED.map((sig) => {
            const handler = () => {
              if (++received > 1 && sig !== "SIGHUP" && options.onRepeat) options.onRepeat();
              else child.kill(sig);
            };
            process.on(sig, handler);
            return () => process.off(sig, handler);
          })
        : [];
      child.on("error", () => (failed = true)); // "close" follows, with the errno as "code"
      child.on("close", (code, signal) => {
        for (const off of handlers) off();
        resolve(failed ? 128 : code ?? (signal ? 128 + signalNumber(signal) : 128));
      });
    });
  },
  spawnDetached(argv, stdio) {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", stdio.stdout, stdio.stderr] });
    child.on("error", () => undefined); // reported through the missing pid below
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${argv[0]}`);
    return child.pid;
  },
};

/** What a foreground command is sent when this process is (runInherit with forwardSignals). */
const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** The number of a signal (128 + it is a shell's exit status for a command it killed). */
function signalNumber(signal: NodeJS.Signals): number {
  return (os.constants.signals as Record<string, number>)[signal] ?? 0;
}
