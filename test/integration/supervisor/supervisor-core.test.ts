// The Supervisor class in-process (no daemon), on real host processes, for
// what is easier to steer from inside: a runtime that reports OOM kills, a
// supervisor replaced while a restart is pending, health reset on restart.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { assertNoLeaks, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { HostProcessRuntime } from "../../../src/supervisor/host-process-runtime.js";
import { DEFAULT_ROTATION } from "../../../src/supervisor/log-rotation.js";
import type { SupervisedContainer, SupervisorEvent } from "../../../src/supervisor/protocol.js";
import type { RuntimePort } from "../../../src/supervisor/runtime-port.js";
import { Supervisor } from "../../../src/supervisor/supervisor.js";
import { waitFor } from "./harness.js";

describe.skipIf(skipUnlessRoot("supervisor core tests"))("Supervisor on host processes", () => {
  let stateDir: string;
  let runtime: HostProcessRuntime;
  let before: HostSnapshot;
  const ids: string[] = [];
  const supervisors: Supervisor[] = [];
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), "stack-sup-core-"));
    runtime = new HostProcessRuntime(join(stateDir, "containers"));
    before = snapshotHost([stateDir]);
  });
  afterEach(() => {
    for (const s of supervisors.splice(0)) s.close();
    for (const id of ids.splice(0)) runtime.remove(id);
    try {
      assertNoLeaks(before, [stateDir]);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  const open = (port: RuntimePort = runtime) => {
    const s = new Supervisor({ project: "core", projectStateDir: join(stateDir, "project"), runtime: port });
    supervisors.push(s);
    return s;
  };
  const launch = async (id: string, argv: string[], over: Partial<SupervisedContainer> = {}): Promise<SupervisedContainer> => {
    ids.push(id);
    const dir = runtime.create(id, argv);
    await runtime.start(id);
    return { id, service: id.split("-")[0]!, index: 1, dir, restart: { condition: "never" }, logging: DEFAULT_ROTATION, ...over };
  };
  const state = (s: Supervisor, id: string) => s.status().find((c) => c.id === id);

  it("reports an OOM kill the runtime saw as an oom event before the die", async () => {
    const oomRuntime: RuntimePort = { status: async (id) => ({ ...(await runtime.status(id)), oomKilled: true }), start: (id) => runtime.start(id), exec: (id, a, o) => runtime.exec(id, a, o) };
    const s = open(oomRuntime);
    const events: SupervisorEvent[] = [];
    s.subscribeEvents((e) => events.push(e));
    s.watch(await launch("mem-1", ["sh", "-c", "exit 137"]));
    await waitFor(() => state(s, "mem-1")?.state === "exited", 5000, "exit");
    expect(events.map((e) => `${e.type}:${e.exitCode ?? ""}`)).toEqual(["start:", "oom:", "die:137"]);
    expect(state(s, "mem-1")).toMatchObject({ oomKilled: true, exitCode: 137 });
  });

  it("asks again when the runtime cannot tell the status, and counts a failed restart as a failed run", async () => {
    let statusFailures = 1;
    let startCalls = 0;
    const flaky: RuntimePort = {
      status: async (id) => {
        if (statusFailures-- > 0) throw new Error("runtime state unreadable");
        return runtime.status(id);
      },
      start: async () => {
        startCalls++;
        throw new Error("no such image");
      },
      exec: (id, a, o) => runtime.exec(id, a, o),
    };
    const s = open(flaky);
    s.watch(await launch("bad-1", ["sh", "-c", "exit 2"], { restart: { condition: "on-failure", maxAttempts: 2 } }));
    await waitFor(() => state(s, "bad-1")?.state === "exited", 8000, "giving up");
    expect(startCalls).toBe(2);
    expect(state(s, "bad-1")).toMatchObject({ restarts: 2, exitCode: -1 });
  });

  it("a probe due before the runtime has made the container waits for it instead of failing", async () => {
    let notYet = 4; // the first status answers: created (the monitor has not run the runtime yet)
    const execs: string[] = [];
    const slow: RuntimePort = {
      status: async (id) => (notYet-- > 0 ? { status: "created" } : runtime.status(id)),
      start: (id) => runtime.start(id),
      exec: async (id, a, o) => (execs.push(id), runtime.exec(id, a, o)),
    };
    const s = open(slow);
    const events: SupervisorEvent[] = [];
    s.subscribeEvents((e) => events.push(e));
    const healthcheck = { argv: ["true"], intervalMs: 30, timeoutMs: 1000, retries: 1, startPeriodMs: 0, startIntervalMs: 30 };
    s.watch(await launch("early-1", ["sleep", "5"], { healthcheck }));
    await waitFor(() => state(s, "early-1")?.health === "healthy", 5000, "healthy");
    expect(notYet).toBeLessThan(0); // every "created" answer was seen, none ran an exec
    expect(events.filter((e) => e.type === "health_status").map((e) => e.health)).toEqual(["healthy"]);
    s.stopping(["early-1"]);
  });

  it("stopping() during a restart's start waits for that start, and the container is not taken back by the restart", async () => {
    let release!: () => void;
    let starts = 0;
    const slow: RuntimePort = {
      status: (id) => runtime.status(id),
      start: async (id) => {
        starts++;
        await new Promise<void>((r) => (release = r));
        await runtime.start(id);
      },
      exec: (id, a, o) => runtime.exec(id, a, o),
    };
    const s = open(slow);
    s.watch(await launch("job-1", ["sh", "-c", "sleep 0.2; exit 1"], { restart: { condition: "always", delayMs: 10 } }));
    await waitFor(() => starts === 1, 5000, "the restart's start");
    let stopped = false;
    const stopping = s.stopping(["job-1"]).then(() => (stopped = true));
    expect(state(s, "job-1")!.state).toBe("stopped");
    await new Promise((r) => setTimeout(r, 200));
    expect(stopped).toBe(false); // the start is still under way
    release();
    await stopping;
    // What the start started is the caller's to stop: running, not watched as a restarted container.
    expect((await runtime.status("job-1")).status).toBe("running");
    expect(state(s, "job-1")).toMatchObject({ state: "stopped", restarts: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(starts).toBe(1);
  });

  it("a new supervisor takes over a pending restart without counting it twice", async () => {
    const s1 = open();
    s1.watch(await launch("job-1", ["sh", "-c", "exit 1"], { restart: { condition: "always", delayMs: 700 } }));
    await waitFor(() => state(s1, "job-1")?.state === "restarting", 5000, "a pending restart");
    s1.close();
    const s2 = open();
    s2.resume();
    expect(state(s2, "job-1")).toMatchObject({ state: "restarting", restarts: 1 });
    await waitFor(() => (state(s2, "job-1")?.restarts ?? 0) >= 2, 5000, "the restart after the takeover, and the next pending one");
    expect(state(s2, "job-1")!.restarts).toBe(2);
    s2.stopping(["job-1"]);
    expect(state(s2, "job-1")!.state).toBe("stopped");
  });

  it("a state file an OS crash left unreadable (it is not fsynced) starts empty, with a line in the log, and is written anew", async () => {
    mkdirSync(join(stateDir, "project"), { recursive: true });
    writeFileSync(join(stateDir, "project", "supervisor-state.json"), "");
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (logged.push(String(chunk)), true)) as typeof process.stderr.write;
    let s: Supervisor;
    try {
      s = open();
    } finally {
      process.stderr.write = write;
    }
    expect(logged.join("")).toMatch(/supervisor-state\.json is unreadable \(.*\); starting with no containers/);
    s.resume();
    expect(s.status()).toEqual([]);
    s.watch(await launch("web-1", ["sleep", "30"]));
    await waitFor(() => state(s, "web-1")?.state === "running", 5000, "the new container running");
    s.stopping(["web-1"]);
  });

  it("resets health to starting on a restart", async () => {
    const s = open();
    const events: SupervisorEvent[] = [];
    s.subscribeEvents((e) => events.push(e));
    const healthcheck = { argv: ["true"], intervalMs: 50, timeoutMs: 1000, retries: 1, startPeriodMs: 5000, startIntervalMs: 50 };
    s.watch(await launch("web-1", ["sh", "-c", "sleep 0.4; exit 1"], { restart: { condition: "on-failure", maxAttempts: 1 }, healthcheck }));
    await waitFor(() => events.filter((e) => e.type === "die").length === 2, 5000, "two runs");
    const seq = events.filter((e) => e.type !== "start").map((e) => (e.type === "health_status" ? `health:${e.health}` : e.type));
    expect(seq).toEqual(["health:healthy", "die", "restart", "health:healthy", "die"]);
    expect(state(s, "web-1")).toMatchObject({ state: "exited", restarts: 1 });
  });
});
