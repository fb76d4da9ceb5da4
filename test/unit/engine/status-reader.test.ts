// The read-only status path of `stack ps`: container states from real files
// in temp folders (handle, pid and exit files, a cgroupfs-shaped tree), and
// the supervisor query against the real protocol server on a unix socket.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ContainerCgroup, realCgroupFs } from "../../../src/runtime/cgroup.js";
import type { ContainerHandle } from "../../../src/runtime/container.js";
import { querySupervisor, readProjectStatus, runtimeStatus } from "../../../src/engine/status-reader.js";
import type { ContainerRecord, ProjectState } from "../../../src/engine/state.js";
import { createSupervisorServer, type ExtraOps } from "../../../src/supervisor/server.js";
import type { Supervisor } from "../../../src/supervisor/supervisor.js";
import type { ContainerStatus as SupervisedStatus } from "../../../src/supervisor/protocol.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-status-reader-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A pid that existed and is gone (a reaped child). */
function deadPid(): number {
  return spawnSync("true").pid!;
}

function handleIn(stateDir: string, project: string, id: string): ContainerHandle {
  const d = join(stateDir, "projects", project, "containers", id);
  mkdirSync(d, { recursive: true });
  const h = { id, project, service: "s", dir: d, exitFile: join(d, "exit"), pidFile: join(d, "pid") } as ContainerHandle;
  writeFileSync(join(d, "handle.json"), JSON.stringify(h));
  return h;
}

describe("runtimeStatus (files and cgroup as the runtime reads them)", () => {
  type Case = { name: string; version: 1 | 2; pid?: "alive" | "dead"; exit?: string; frozen?: boolean; ooms?: number; expected: object };
  const cases: Case[] = [
    { name: "no pid file: created", version: 1, expected: { status: "created" } },
    { name: "live pid: running", version: 1, pid: "alive", expected: { status: "running" } },
    { name: "live pid, frozen (v1 freezer): paused", version: 1, pid: "alive", frozen: true, expected: { status: "paused" } },
    { name: "live pid, frozen (v2 cgroup.events): paused", version: 2, pid: "alive", frozen: true, expected: { status: "paused" } },
    { name: "exit file: exited with its code", version: 1, pid: "dead", exit: "3\n", expected: { status: "exited", exitCode: 3, oomKilled: false } },
    { name: "exit 137 with an OOM kill (v1): OOM killed", version: 1, pid: "dead", exit: "137\n", ooms: 1, expected: { status: "exited", exitCode: 137, oomKilled: true } },
    { name: "exit 137 with an OOM kill (v2): OOM killed", version: 2, pid: "dead", exit: "137\n", ooms: 2, expected: { status: "exited", exitCode: 137, oomKilled: true } },
    { name: "exit 137 without an OOM kill: plain kill", version: 1, pid: "dead", exit: "137\n", ooms: 0, expected: { status: "exited", exitCode: 137, oomKilled: false } },
    { name: "exit 1 after an OOM kill: not OOM killed", version: 1, pid: "dead", exit: "1\n", ooms: 1, expected: { status: "exited", exitCode: 1, oomKilled: false } },
    { name: "garbage in the exit file: -1", version: 1, exit: "what\n", expected: { status: "exited", exitCode: -1, oomKilled: false } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const root = join(dir, "cgroup");
      const h = handleIn(join(dir, "state"), "p", "abc");
      const cg = (rel: string) => (c.version === 2 ? join(root, "stack/p/abc", rel) : join(root, rel.split("/")[0]!, "stack/p/abc", rel.split("/")[1]!));
      if (c.version === 2) {
        mkdirSync(join(root, "stack/p/abc"), { recursive: true });
        writeFileSync(join(root, "cgroup.controllers"), "memory pids\n");
        writeFileSync(cg("cgroup.events"), `populated 1\nfrozen ${c.frozen ? 1 : 0}\n`);
        writeFileSync(cg("memory.events"), `low 0\nhigh 0\nmax 3\noom 1\noom_kill ${c.ooms ?? 0}\n`);
      } else {
        for (const ctl of ["freezer", "memory"]) mkdirSync(join(root, ctl, "stack/p/abc"), { recursive: true });
        writeFileSync(cg("freezer/freezer.state"), c.frozen ? "FROZEN\n" : "THAWED\n");
        writeFileSync(cg("memory/memory.oom_control"), `oom_kill_disable 0\nunder_oom 0\noom_kill ${c.ooms ?? 0}\n`);
      }
      if (c.pid) writeFileSync(h.pidFile, `${c.pid === "alive" ? process.pid : deadPid()}`);
      if (c.exit !== undefined) writeFileSync(h.exitFile, c.exit);
      const cgroup = new ContainerCgroup({ fs: realCgroupFs, signal: () => undefined, sleep: async () => undefined }, root, "p", "abc");
      const { startedAt, finishedAt, ...rest } = await runtimeStatus(h, cgroup, async () => undefined);
      expect(rest).toEqual(c.expected);
      // the pid file's mtime is the start, the exit file's the end
      expect(startedAt).toEqual(c.pid ? statSync(h.pidFile).mtime.toISOString() : undefined);
      expect(finishedAt).toEqual(c.exit !== undefined ? statSync(h.exitFile).mtime.toISOString() : undefined);
    });
  }

  it("a dead pid without an exit file: waits for the monitor's exit file, then reports its code", async () => {
    const h = handleIn(join(dir, "state"), "p", "abc");
    writeFileSync(h.pidFile, String(deadPid()));
    let waits = 0;
    const sleep = async () => {
      if (++waits === 3) writeFileSync(h.exitFile, "7\n");
    };
    const cgroup = new ContainerCgroup({ fs: realCgroupFs, signal: () => undefined, sleep }, join(dir, "cgroup"), "p", "abc", 1);
    expect(await runtimeStatus(h, cgroup, sleep)).toMatchObject({ status: "exited", exitCode: 7, oomKilled: false, finishedAt: statSync(h.exitFile).mtime.toISOString() });
    expect(waits).toBe(3);
  });

  it("a dead pid whose exit file never comes: exited after 100 waits", async () => {
    const h = handleIn(join(dir, "state"), "p", "abc");
    writeFileSync(h.pidFile, String(deadPid()));
    let waits = 0;
    const sleep = async () => void waits++;
    const cgroup = new ContainerCgroup({ fs: realCgroupFs, signal: () => undefined, sleep }, join(dir, "cgroup"), "p", "abc", 1);
    expect(await runtimeStatus(h, cgroup, sleep)).toEqual({ status: "exited", startedAt: statSync(h.pidFile).mtime.toISOString() });
    expect(waits).toBe(100);
  });
});

function record(name: string, id: string, service: string, index: number): ContainerRecord {
  return { name, id, service, index, configHash: "h", config: {}, image: { ref: "img:1", digest: "sha256:x" }, createdAt: "2026-01-01T00:00:00Z" };
}

async function listen(socket: string, statuses: SupervisedStatus[], extraOps: ExtraOps = {}): Promise<Server> {
  const supervisor = { status: () => statuses } as unknown as Supervisor;
  const server = createSupervisorServer({ project: "p", supervisor, onShutdown: () => undefined, onClientsChanged: () => undefined, extraOps });
  mkdirSync(join(socket, ".."), { recursive: true });
  await new Promise<void>((r) => server.listen(socket, r));
  return server;
}

describe("readProjectStatus", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
  });

  function project(): { stateDir: string; runDir: string; state: ProjectState } {
    const stateDir = join(dir, "state");
    const runDir = join(dir, "run");
    const web1 = handleIn(stateDir, "p", "id1");
    writeFileSync(web1.pidFile, String(process.pid));
    const db1 = handleIn(stateDir, "p", "id2");
    writeFileSync(db1.pidFile, String(deadPid()));
    writeFileSync(db1.exitFile, "2\n");
    // id3 has a record but no folder (a crash mid-remove)
    const state: ProjectState = {
      version: 1,
      project: "p",
      projectDir: dir,
      files: [],
      containers: { "p-web-1": record("p-web-1", "id1", "web", 1), "p-db-1": record("p-db-1", "id2", "db", 1), "p-web-2": record("p-web-2", "id3", "web", 2) },
    };
    const ports = [{ service: "web", container: "p-web-1", hostIp: "127.0.0.1", hostPort: 8080, protocol: "tcp", target: 80, containerAddress: "10.0.0.2" }];
    writeFileSync(join(stateDir, "projects", "p", "network.json"), JSON.stringify({ version: 1, project: "p", networks: {}, containers: {}, ports }));
    return { stateDir, runDir, state };
  }

  it("without a supervisor: states from the files, ports from network.json, missing for a record without a folder or a name without a record", async () => {
    const { stateDir, runDir, state } = project();
    const cgroupRoot = join(dir, "cgroup"); // no freezer files: not frozen
    const r = await readProjectStatus({ project: "p", stateDir, runDir, cgroupRoot }, state, ["p-db-1", "p-web-1", "p-web-2", "p-nope-1"]);
    expect(r.watched).toEqual(new Set());
    expect(r.statuses.map((s) => [s.name, s.state, s.exitCode])).toEqual([
      ["p-db-1", "exited", 2],
      ["p-web-1", "running", undefined],
      ["p-web-2", "missing", undefined],
      ["p-nope-1", "missing", undefined],
    ]);
    expect(r.statuses[0]!.finishedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(r.statuses[1]!.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(r.statuses[1]!.ports).toEqual([{ hostIp: "127.0.0.1", hostPort: 8080, target: 80, protocol: "tcp" }]);
    expect(r.statuses[0]!.ports).toBeUndefined();
  });

  it("with a supervisor: health and restarting from it, and the watched services (detached and attached)", async () => {
    const { stateDir, runDir, state } = project();
    server = await listen(join(runDir, "p", "supervisor.sock"), [
      { id: "id1", service: "web", index: 1, state: "running", health: "healthy", healthLog: [{ start: "", end: "", exitCode: 0, output: "ok" }], restarts: 0 } as unknown as SupervisedStatus,
      { id: "id2", service: "db", index: 1, state: "restarting", health: "unhealthy", restarts: 2 } as SupervisedStatus,
    ], { fileWatchStatus: async () => ({ detached: { services: ["web"], since: "" }, attached: ["db"] }) });
    const r = await readProjectStatus({ project: "p", stateDir, runDir, cgroupRoot: join(dir, "cgroup") }, state, ["p-web-1", "p-db-1"]);
    expect(r.watched).toEqual(new Set(["web", "db"]));
    expect(r.statuses[0]).toMatchObject({ state: "running", health: "healthy", healthLog: ["ok"] });
    // health only shows on a running container; the supervisor's restarting wins over the exit file
    expect(r.statuses[1]!.state).toBe("restarting");
    expect(r.statuses[1]!.health).toBeUndefined();
  });

  it("a supervisor without file watching watches nothing; its statuses still count", async () => {
    const { stateDir, runDir, state } = project();
    server = await listen(join(runDir, "p", "supervisor.sock"), [{ id: "id1", service: "web", index: 1, state: "running", health: "starting", restarts: 0 } as SupervisedStatus]);
    const r = await readProjectStatus({ project: "p", stateDir, runDir, cgroupRoot: join(dir, "cgroup") }, state, ["p-web-1"]);
    expect(r.watched).toEqual(new Set());
    expect(r.statuses[0]!.health).toBe("starting");
  });

  it("a socket file nobody listens on is no supervisor", async () => {
    const runDir = join(dir, "run");
    server = await listen(join(runDir, "p", "supervisor.sock"), []);
    await new Promise((r) => server!.close(r)); // leaves no listener; make a stale socket file in its place
    server = undefined;
    writeFileSync(join(runDir, "p", "supervisor.sock"), "");
    expect(await querySupervisor(runDir, "p")).toEqual({ statuses: new Map(), watched: new Set() });
  });

  it("an error answer to status is raised with its category and hint", async () => {
    const runDir = join(dir, "run");
    const supervisor = {
      status: () => {
        throw Object.assign(new Error("status is broken"), {});
      },
    } as unknown as Supervisor;
    server = createSupervisorServer({ project: "p", supervisor, onShutdown: () => undefined, onClientsChanged: () => undefined });
    mkdirSync(join(runDir, "p"), { recursive: true });
    await new Promise<void>((r) => server!.listen(join(runDir, "p", "supervisor.sock"), r));
    await expect(querySupervisor(runDir, "p")).rejects.toThrow(/status is broken/);
  });

  it("a supervisor that never answers is an error naming its socket, after the timeout", async () => {
    const runDir = join(dir, "run");
    mkdirSync(join(runDir, "p"), { recursive: true });
    const { createServer } = await import("node:net");
    const silent = createServer((s) => void s.resume()); // reads and never answers
    await new Promise<void>((r) => silent.listen(join(runDir, "p", "supervisor.sock"), r));
    server = silent;
    await expect(querySupervisor(runDir, "p", 200)).rejects.toThrow(/supervisor\.sock did not answer within 200 ms/);
  });
});
