// A real supervisor daemon (dist/supervisor/main.js, runtime host-process)
// in temporary state/run folders, with the test playing the engine: it
// creates and starts host-process "containers" and tells the supervisor.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureSupervisor, type SupervisorClient } from "../../../src/supervisor/client.js";
import { projectStateDir, supervisorPaths } from "../../../src/supervisor/paths.js";
import type { HealthSpec } from "../../../src/supervisor/health.js";
import { HostProcessRuntime } from "../../../src/supervisor/host-process-runtime.js";
import { DEFAULT_ROTATION, type RotationSpec } from "../../../src/supervisor/log-rotation.js";
import type { ContainerStatus, SupervisedContainer } from "../../../src/supervisor/protocol.js";
import type { RestartSpec } from "../../../src/supervisor/restart-policy.js";

export const daemonEntry = fileURLToPath(new URL("../../../dist/supervisor/main.js", import.meta.url));

export interface Harness {
  project: string;
  stateDir: string;
  runDir: string;
  runtime: HostProcessRuntime;
  connect(idleMs?: number): Promise<SupervisorClient>;
  /** Creates, starts and returns the spec of a container running argv. */
  run(id: string, service: string, argv: string[], over?: { restart?: RestartSpec; healthcheck?: HealthSpec; logging?: RotationSpec; index?: number }): Promise<SupervisedContainer>;
  daemonPid(): number;
  cleanup(): Promise<void>;
}

export function createHarness(project = "demo"): Harness {
  const stateDir = mkdtempSync(join(tmpdir(), "stack-sup-state-"));
  const runDir = mkdtempSync(join(tmpdir(), "stack-sup-run-"));
  const runtime = new HostProcessRuntime(join(projectStateDir(stateDir, project), "containers"));
  const ids: string[] = [];
  const clients: SupervisorClient[] = [];
  const daemonPid = () => Number(readFileSync(supervisorPaths(runDir, project).pidFile, "utf8").trim());
  return {
    project,
    stateDir,
    runDir,
    runtime,
    daemonPid,
    async connect(idleMs = 500) {
      const c = await ensureSupervisor(project, stateDir, runDir, { entry: daemonEntry, runtime: "host-process", idleMs });
      clients.push(c);
      return c;
    },
    async run(id, service, argv, over = {}) {
      ids.push(id);
      const dir = runtime.create(id, argv);
      await runtime.start(id);
      return { id, service, index: over.index ?? 1, dir, restart: over.restart ?? { condition: "never" }, healthcheck: over.healthcheck, logging: over.logging ?? DEFAULT_ROTATION };
    },
    async cleanup() {
      const paths = supervisorPaths(runDir, project);
      for (const id of ids) runtime.remove(id);
      if (existsSync(paths.pidFile)) {
        const pid = daemonPid();
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          // gone already
        }
        await waitFor(() => !alive(pid), 5000, "the supervisor to stop");
      }
      for (const c of clients) c.close();
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function waitForState(client: SupervisorClient, id: string, pred: (s: ContainerStatus) => boolean, timeoutMs: number, what: string): Promise<ContainerStatus> {
  let last: ContainerStatus | undefined;
  await waitFor(async () => {
    last = (await client.status()).find((s) => s.id === id);
    return !!last && pred(last);
  }, timeoutMs, `${id}: ${what} (last: ${JSON.stringify(last)})`);
  return last!;
}

export async function collect<T>(it: AsyncIterable<T>, until: (items: T[]) => boolean, timeoutMs: number): Promise<T[]> {
  const items: T[] = [];
  const iterator = it[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  while (!until(items)) {
    const r = await Promise.race([iterator.next(), new Promise<"timeout">((res) => (timer = setTimeout(() => res("timeout"), Math.max(0, deadline - Date.now()))))]);
    clearTimeout(timer);
    if (r === "timeout") {
      // a next() is still pending: return() would wait behind it, so let it go
      void iterator.return?.();
      throw new Error(`timed out with ${items.length} items: ${JSON.stringify(items.slice(-5))}`);
    }
    if (r.done) return items;
    items.push(r.value);
  }
  await iterator.return?.();
  return items;
}
