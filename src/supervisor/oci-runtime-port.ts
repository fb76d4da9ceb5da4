// The RuntimePort of real containers: stack's own runtime layer (overlay
// rootfs, cgroups, runc) as the supervisor needs it — status of a container,
// start it again for a restart policy, exec a healthcheck in it. Ids are the
// runtime ids the engine created the containers under, in this project.
import type { ContainerRuntime } from "../runtime/index.js";
import type { ExecResult, RuntimePort, RuntimeStatus } from "./runtime-port.js";

const MAX_OUTPUT = 4096;

export class OciRuntimePort implements RuntimePort {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly project: string,
  ) {}

  async status(id: string): Promise<RuntimeStatus> {
    let handle;
    try {
      handle = this.runtime.load(this.project, id);
    } catch {
      return { status: "missing" };
    }
    return await this.runtime.status(handle);
  }

  async start(id: string): Promise<void> {
    await this.runtime.start(this.runtime.load(this.project, id));
  }

  async exec(id: string, argv: string[], options: { timeoutMs: number }): Promise<ExecResult> {
    const handle = this.runtime.load(this.project, id);
    try {
      const r = await this.runtime.exec(handle, argv, { timeoutMs: options.timeoutMs });
      return { exitCode: r.exitCode, output: (r.stdout + r.stderr).slice(0, MAX_OUTPUT) };
    } catch (e) {
      return { exitCode: -1, output: (e as Error).message.slice(0, MAX_OUTPUT) };
    }
  }
}
