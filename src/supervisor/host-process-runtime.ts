// A RuntimePort whose "containers" are plain host commands, launched with the
// same process model as the OCI runtime (runtime-port.ts): a detached monitor
// shell (own session) runs the command with the FIFOs as stdout/stderr and
// writes <dir>/exit when it ends. exec runs a host command in <dir>.
// It exists so the supervisor is tested for real (real processes, FIFOs,
// exit files) without runc, and as a reference of the convention; the
// engine uses the OCI runtime.
import { execFile, execFileSync, spawn } from "node:child_process";
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NotFoundError, SystemError } from "../errors.js";
import type { ExecResult, RuntimePort, RuntimeStatus } from "./runtime-port.js";

const MONITOR = 'cd "$0" || exit 125; "$@"; echo $? > exit.tmp && mv exit.tmp exit';

export class HostProcessRuntime implements RuntimePort {
  /** `containersRoot/<id>` is a container's folder. */
  constructor(private readonly containersRoot: string) {}

  dirOf(id: string): string {
    return join(this.containersRoot, id);
  }

  /** Records the command of a new container (the engine's "create"). */
  create(id: string, argv: string[]): string {
    const dir = this.dirOf(id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "command.json"), JSON.stringify(argv));
    return dir;
  }

  async start(id: string): Promise<void> {
    const dir = this.dirOf(id);
    if (!existsSync(join(dir, "command.json"))) throw new NotFoundError(`no container ${JSON.stringify(id)} in ${this.containersRoot}`, { hint: "create it first" });
    const argv = JSON.parse(readFileSync(join(dir, "command.json"), "utf8")) as string[];
    rmSync(join(dir, "exit"), { force: true });
    const fifos = ["stdout.fifo", "stderr.fifo"].map((f) => join(dir, f));
    const missing = fifos.filter((f) => !existsSync(f));
    if (missing.length > 0) execFileSync("mkfifo", ["-m", "600", ...missing]);
    // O_RDWR: the open does not wait for a reader, and the pipe never lacks one (no EPIPE when no supervisor reads).
    const [out, err] = fifos.map((f) => openSync(f, constants.O_RDWR));
    try {
      const child = spawn("sh", ["-c", MONITOR, dir, ...argv], { detached: true, stdio: ["ignore", out!, err!] });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once("spawn", () => resolve(child.pid!));
        child.once("error", (e) => reject(new SystemError(`cannot start ${JSON.stringify(argv)}: ${e.message}`, { hint: "is sh on PATH?", cause: e })));
      });
      child.unref();
      writeFileSync(join(dir, "monitor.pid"), String(pid));
    } finally {
      closeSync(out!);
      closeSync(err!);
    }
  }

  async status(id: string): Promise<RuntimeStatus> {
    const dir = this.dirOf(id);
    if (!existsSync(dir)) return { status: "missing" };
    if (existsSync(join(dir, "exit"))) return { status: "exited", exitCode: Number(readFileSync(join(dir, "exit"), "utf8").trim()), oomKilled: false };
    const pid = this.monitorPid(id);
    if (pid === undefined) return { status: "created" };
    return alive(pid) ? { status: "running", pid } : { status: "exited" };
  }

  exec(id: string, argv: string[], options: { timeoutMs: number }): Promise<ExecResult> {
    return new Promise((resolve) => {
      execFile(argv[0]!, argv.slice(1), { cwd: this.dirOf(id), timeout: options.timeoutMs, killSignal: "SIGKILL", maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (!error) return resolve({ exitCode: 0, output });
        const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        if (e.killed) return resolve({ exitCode: -1, output: `health check exceeded timeout (${options.timeoutMs} ms)` });
        resolve({ exitCode: typeof e.code === "number" ? e.code : -1, output: output || e.message });
      });
    });
  }

  /** Sends a signal to the command (the monitor's children), so the monitor records the exit status. */
  signal(id: string, signal: NodeJS.Signals = "SIGTERM"): void {
    const pid = this.monitorPid(id);
    if (pid === undefined) return;
    for (const child of childrenOf(pid)) {
      try {
        process.kill(child, signal);
      } catch {
        // already gone
      }
    }
  }

  /** Kills the monitor's whole session and removes the folder. */
  remove(id: string): void {
    const pid = this.monitorPid(id);
    if (pid !== undefined && alive(pid)) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(this.dirOf(id), { recursive: true, force: true });
  }

  private monitorPid(id: string): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.dirOf(id), "monitor.pid"), "utf8"));
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
