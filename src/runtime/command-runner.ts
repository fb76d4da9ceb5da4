// The narrow process interface of the runtime layer: run a command to its
// end, or start one detached (its own session, not our child in any way that
// matters: it survives us).
import { spawn } from "node:child_process";
import type { Options as ExecaOptions } from "execa";

// execa is imported on first use: it is a large module graph (~120 files), and
// verbs such as `ps` never spawn anything.
async function execa<O extends ExecaOptions>(file: string, args: readonly string[], options?: O) {
  const m = await import("execa");
  return m.execa(file, args, options);
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  run(argv: string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** Runs with the caller's stdin/stdout/stderr (interactive exec); resolves with the exit code. */
  runInherit(argv: string[]): Promise<number>;
  /** setsid + spawn with the given fds as stdout/stderr and /dev/null as stdin; returns the pid. */
  spawnDetached(argv: string[], stdio: { stdout: number; stderr: number }): number;
}

export const realCommandRunner: CommandRunner = {
  async run(argv, options = {}) {
    const r = await execa(argv[0]!, argv.slice(1), {
      reject: false,
      input: options.input,
      stdin: options.input === undefined ? "ignore" : "pipe",
      timeout: options.timeoutMs,
      stripFinalNewline: false,
    });
    return { exitCode: r.exitCode ?? (r.signal ? 128 : -1), stdout: String(r.stdout), stderr: String(r.stderr) };
  },
  async runInherit(argv) {
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, stdio: "inherit" });
    return r.exitCode ?? 128;
  },
  spawnDetached(argv, stdio) {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", stdio.stdout, stdio.stderr] });
    child.on("error", () => undefined); // reported through the missing pid below
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${argv[0]}`);
    return child.pid;
  },
};
