// runc and crun behind one interface: they share the command line stack uses
// (state, kill, delete, exec, run --keep). Every call passes our own --root
// (under STACK_RUN_DIR), never the runtime's default state dir.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SystemError, UnsupportedError } from "../errors.js";
import type { CommandRunner } from "../fs/command-runner.js";

export type RuntimeName = "runc" | "crun";

export interface RuntimeChoice {
  name: RuntimeName;
  binary: string;
}

export type CgroupMode = "v1" | "hybrid" | "v2";

/**
 * Picks the OCI runtime: `override` (STACK_RUNTIME, a name) when given, else
 * crun when it can work on this cgroup layout, else runc. `available` maps
 * each runtime to its binary path when installed.
 */
export function chooseRuntime(available: Partial<Record<RuntimeName, string>>, cgroupMode: CgroupMode, override?: string): RuntimeChoice {
  const usable = (n: RuntimeName) => n === "runc" || cgroupMode === "v2"; // crun refuses v1 and hybrid hosts
  if (override !== undefined && override !== "") {
    if (override !== "runc" && override !== "crun") {
      throw new UnsupportedError(`STACK_RUNTIME=${JSON.stringify(override)} is not a supported runtime`, { hint: 'use "runc" or "crun"' });
    }
    const binary = available[override];
    if (!binary) throw new UnsupportedError(`STACK_RUNTIME=${override}: ${override} is not installed`, { hint: `install the Debian package ${override}, or unset STACK_RUNTIME` });
    if (!usable(override)) throw new UnsupportedError(`STACK_RUNTIME=crun: crun refuses cgroup ${cgroupMode} hosts`, { hint: "unset STACK_RUNTIME to use runc" });
    return { name: override, binary };
  }
  for (const name of ["crun", "runc"] as const) {
    const binary = available[name];
    if (binary && usable(name)) return { name, binary };
  }
  throw new UnsupportedError("no usable OCI runtime: neither runc nor crun is installed", { hint: "install runc (`apt-get install runc`)" });
}

export interface RuntimeState {
  id: string;
  pid: number;
  /** "creating" | "created" | "running" | "paused" | "stopped" */
  status: string;
}

export class OciRuntime {
  constructor(
    private readonly runner: CommandRunner,
    readonly choice: RuntimeChoice,
    /** The runtime's state dir, e.g. $STACK_RUN_DIR/runc. */
    readonly root: string,
  ) {}

  private argv(...rest: string[]): string[] {
    return [this.choice.binary, "--root", this.root, ...rest];
  }

  /** The command a monitor runs: create + start in the foreground, exit status = the container's; state kept for inspection until delete. */
  runArgv(id: string, bundle: string, pidFile: string, keep = true): string[] {
    return this.argv("run", ...(keep ? ["--keep"] : []), "--bundle", bundle, "--pid-file", pidFile, id);
  }

  /** Whether the runtime holds state for the container (its folder under our --root): no `delete` to run otherwise. */
  hasState(id: string): boolean {
    return existsSync(join(this.root, id));
  }

  /** undefined when the runtime does not know the container. */
  async state(id: string): Promise<RuntimeState | undefined> {
    const r = await this.runner.run(this.argv("state", id));
    if (r.exitCode !== 0) return undefined;
    const s = JSON.parse(r.stdout) as RuntimeState;
    return { id: s.id, pid: s.pid, status: s.status };
  }

  async list(): Promise<RuntimeState[]> {
    const r = await this.runner.run(this.argv("list", "--format", "json"));
    if (r.exitCode !== 0) throw new SystemError(`${this.choice.name} list failed: ${r.stderr.trim()}`, { hint: `check ${this.root}` });
    const rows = (JSON.parse(r.stdout.trim() || "null") ?? []) as RuntimeState[];
    return rows.map((s) => ({ id: s.id, pid: s.pid, status: s.status })).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    const r = await this.runner.run(this.argv("kill", ...(all ? ["--all"] : []), id, signal));
    if (r.exitCode !== 0 && !/not running|does not exist|process already finished/i.test(r.stderr)) {
      throw new SystemError(`${this.choice.name} kill ${id} ${signal} failed: ${r.stderr.trim()}`, { hint: "check the signal name" });
    }
  }

  async delete(id: string): Promise<void> {
    const r = await this.runner.run(this.argv("delete", "--force", id));
    if (r.exitCode !== 0 && !/does not exist/i.test(r.stderr)) {
      throw new SystemError(`${this.choice.name} delete ${id} failed: ${r.stderr.trim()}`, { hint: "stop the container first" });
    }
  }

  /**
   * Deletes the state of a container whose `run` has returned (its init, and
   * with it its whole PID namespace, is gone). For runc that is its state
   * folder and nothing more — no hooks are configured, and the cgroup is
   * stack's to remove — so the folder goes without a `runc delete` process;
   * other runtimes are asked to delete.
   */
  async deleteStopped(id: string): Promise<void> {
    if (this.choice.name !== "runc") return this.delete(id);
    rmSync(join(this.root, id), { recursive: true, force: true });
  }

  execArgv(id: string, processFile: string, tty: boolean): string[] {
    return this.argv("exec", ...(tty ? ["--tty"] : []), "--process", processFile, id);
  }
}
