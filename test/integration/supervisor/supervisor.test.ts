import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { assertNoLeaks, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { ensureSupervisor } from "../../../src/supervisor/client.js";
import { supervisorPaths } from "../../../src/supervisor/paths.js";
import type { SupervisorEvent } from "../../../src/supervisor/protocol.js";
import type { LogLine } from "../../../src/supervisor/log-record.js";
import { alive, collect, createHarness, daemonEntry, waitFor, waitForState, type Harness } from "./harness.js";

// Not privileged (plain host processes, FIFOs, a unix socket); skipped only
// when the daemon has not been built.
const built = existsSync(daemonEntry);
if (!built) console.warn(`skipping supervisor integration tests: ${daemonEntry} is missing; run npx tsc -p tsconfig.build.json`);

describe.skipIf(!built || skipUnlessRoot("supervisor integration tests"))("supervisor daemon", () => {
  let h: Harness;
  let before: HostSnapshot;
  beforeEach(() => {
    h = createHarness();
    before = snapshotHost([h.stateDir, h.runDir]);
  });
  afterEach(async () => {
    await h.cleanup();
    assertNoLeaks(before, [h.stateDir, h.runDir]);
    expect(existsSync(supervisorPaths(h.runDir, h.project).socket)).toBe(false);
  });

  it("captures stdout and stderr lines with their stream and a timestamp, and records the exit code", async () => {
    const client = await h.connect();
    const spec = await h.run("web-1", "web", ["sh", "-c", "echo out1; echo err1 >&2; sleep 0.1; echo out2; printf partial; exit 7"]);
    await client.watch(spec);
    const st = await waitForState(client, "web-1", (s) => s.state === "exited", 5000, "exit");
    expect(st.exitCode).toBe(7);
    const lines = await collect(client.logs({ services: ["web"] }), () => false, 5000);
    // out1 and err1 travel through two pipes at the same moment: either may be read first
    expect(lines.slice(0, 2).map((l) => `${l.s}:${l.l}`).sort()).toEqual(["stderr:err1", "stdout:out1"]);
    expect(lines.slice(2).map((l) => `${l.s}:${l.l}`)).toEqual(["stdout:out2", "stdout:partial"]);
    expect(new Set(lines.map((l) => `${l.service}/${l.index}/${l.container}`))).toEqual(new Set(["web/1/web-1"]));
    for (const l of lines) expect(l.t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(lines.map((l) => l.t)).toEqual([...lines.map((l) => l.t)].sort());
    const stored = readFileSync(join(spec.dir, "logs", "current.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(Object.keys(stored[0]).sort()).toEqual(["l", "s", "t"]);
    const events = readFileSync(join(h.stateDir, "projects", h.project, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as SupervisorEvent);
    expect(events.map((e) => [e.type, e.id, e.exitCode])).toEqual([["start", "web-1", undefined], ["die", "web-1", 7]]);
  });

  it("restarts on failure with doubling back-off and gives up after on-failure:3", async () => {
    const client = await h.connect();
    const events: SupervisorEvent[] = [];
    const eventsDone = collect(client.events(), (items) => { events.splice(0, events.length, ...items); return items.filter((e) => e.type === "die").length >= 4; }, 15_000);
    await new Promise((r) => setTimeout(r, 100)); // the events stream is subscribed
    const spec = await h.run("job-1", "job", ["sh", "-c", "echo run; exit 3"], { restart: { condition: "on-failure", maxAttempts: 3 } });
    await client.watch(spec);
    await eventsDone;
    const st = await waitForState(client, "job-1", (s) => s.state === "exited", 5000, "giving up");
    expect(st).toMatchObject({ restarts: 3, exitCode: 3 });
    const restarts = events.filter((e) => e.type === "restart");
    expect(restarts.map((e) => e.delayMs)).toEqual([100, 200, 400]);
    // each restart came at least its delay after the death before it
    const deaths = events.filter((e) => e.type === "die");
    const ms = (t: string) => Date.parse(t.slice(0, 23) + "Z");
    for (let i = 0; i < 3; i++) expect(ms(restarts[i]!.t) - ms(deaths[i]!.t)).toBeGreaterThanOrEqual(restarts[i]!.delayMs! - 1);
    const lines = await collect(client.logs({ services: ["job"] }), () => false, 5000);
    expect(lines.map((l) => l.l)).toEqual(["run", "run", "run", "run"]);
  });

  it("follows a service's logs across a restart and a recreate, and does not restart what the user stopped", async () => {
    const client = await h.connect();
    const spec = await h.run("app-1", "app", ["sh", "-c", "echo started; sleep 0.3; exit 1"], { restart: { condition: "always" } });
    await client.watch(spec);
    const follow = collect(client.logs({ services: ["app"], follow: true }), (items) => items.some((l) => l.l === "second container"), 10_000);
    await waitForState(client, "app-1", (s) => s.restarts >= 1 && s.state === "running", 5000, "a restart");
    // "running" comes a moment before the restarted shell has printed: stop it only once its line is logged.
    const started = async () => (await collect(client.logs({ services: ["app"] }), () => false, 5000)).filter((l) => l.l === "started").length;
    await waitFor(async () => (await started()) >= 2, 5000, "the restarted app-1's first line");
    await client.stopping(["app-1"]);
    h.runtime.signal("app-1", "SIGTERM");
    await waitForState(client, "app-1", (s) => s.state === "stopped", 5000, "stopped by the user");
    await client.forget("app-1");
    const spec2 = await h.run("app-2", "app", ["sh", "-c", "echo second container; sleep 5"]);
    await client.watch(spec2);
    const lines = await follow;
    // (stderr has the shell's "Terminated" from the stop)
    expect(lines.filter((l) => l.s === "stdout").map((l) => `${l.container}:${l.l}`)).toEqual(["app-1:started", "app-1:started", "app-2:second container"]);
    const st = (await client.status()).find((s) => s.id === "app-1");
    expect(st).toBeUndefined();
  });

  it("rotates the log by size and keeps max-file files", async () => {
    const client = await h.connect();
    const argv = ["sh", "-c", 'i=1; while [ $i -le 300 ]; do echo "line $i ........................................"; i=$((i+1)); done'];
    const spec = await h.run("log-1", "log", argv, { logging: { maxSizeBytes: 4000, maxFiles: 3 } });
    await client.watch(spec);
    await waitForState(client, "log-1", (s) => s.state === "exited", 5000, "exit");
    const files = readdirSync(join(spec.dir, "logs")).sort();
    expect(files).toEqual(["current.jsonl", "current.jsonl.1", "current.jsonl.2"]);
    for (const f of files) expect(statSync(join(spec.dir, "logs", f)).size).toBeLessThanOrEqual(4000);
    const lines = await collect(client.logs({ services: ["log"] }), () => false, 5000);
    const numbers = lines.map((l) => Number(/line (\d+)/.exec(l.l)![1]));
    expect(numbers.at(-1)).toBe(300);
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i)); // contiguous: rotation lost nothing in between
    const tail = await collect(client.logs({ services: ["log"], tail: 2 }), () => false, 5000);
    expect(tail.map((l) => l.l.split(" ")[1])).toEqual(["299", "300"]);
    const across = await collect(client.logs({ services: ["log"], tail: 60 }), () => false, 5000); // more than current.jsonl holds
    expect(across.map((l) => Number(l.l.split(" ")[1]))).toEqual(Array.from({ length: 60 }, (_, i) => 241 + i));
  });

  it("loses no line and repeats none when the supervisor is killed with SIGKILL and a new one re-adopts", async () => {
    const client = await h.connect();
    const argv = ["sh", "-c", 'i=0; while [ $i -lt 250 ]; do echo "n $i"; i=$((i+1)); sleep 0.01; done'];
    const spec = await h.run("w-1", "w", argv);
    await client.watch(spec);
    await new Promise((r) => setTimeout(r, 700));
    const first = h.daemonPid();
    process.kill(first, "SIGKILL");
    await waitFor(() => !alive(first), 2000, "the killed supervisor");
    client.close();
    await new Promise((r) => setTimeout(r, 500)); // the process keeps writing into the pipe meanwhile
    const client2 = await h.connect();
    expect(client2.info.pid).not.toBe(first);
    await waitForState(client2, "w-1", (s) => s.state === "exited", 15_000, "exit after re-adoption");
    const lines = await collect(client2.logs({ services: ["w"] }), () => false, 5000);
    expect(lines.map((l) => l.l)).toEqual(Array.from({ length: 250 }, (_, i) => `n ${i}`));
  });

  it("keeps a partial line that was read but not finished when the supervisor is killed", async () => {
    const client = await h.connect();
    const spec = await h.run("p-1", "p", ["sh", "-c", "printf half; sleep 0.6; echo ' done'; echo next"]);
    await client.watch(spec);
    await waitFor(() => existsSync(join(spec.dir, "logs", "partial.stdout")), 3000, "the partial line on disk");
    const first = h.daemonPid();
    process.kill(first, "SIGKILL");
    await waitFor(() => !alive(first), 2000, "the killed supervisor");
    client.close();
    const client2 = await h.connect();
    await waitForState(client2, "p-1", (s) => s.state === "exited", 5000, "exit");
    const lines = await collect(client2.logs({ services: ["p"] }), () => false, 5000);
    expect(lines.map((l) => l.l)).toEqual(["half done", "next"]);
    expect(existsSync(join(spec.dir, "logs", "partial.stdout"))).toBe(false);
  });

  it("answers bad frames, another protocol version and unknown operations with errors, and lives on", async () => {
    const client = await h.connect();
    const socket = connect(supervisorPaths(h.runDir, h.project).socket);
    socket.setEncoding("utf8");
    let received = "";
    socket.on("data", (d: string) => (received += d));
    socket.write('{not json\n{"v":2,"seq":1,"op":"status"}\n{"v":1,"seq":2,"op":"frobnicate"}\n{"v":1,"seq":3,"op":"status"}\n');
    await waitFor(() => received.split("\n").length > 4, 3000, "four answers");
    socket.destroy();
    const answers = received.trim().split("\n").map((l) => JSON.parse(l));
    expect(answers[0]).toMatchObject({ seq: -1, ok: false, error: { category: "invalid-input" } });
    expect(answers[0].error.message).toMatch(/^bad frame: /);
    expect(answers[1]).toMatchObject({ seq: 1, ok: false, error: { category: "unsupported", message: "protocol version 2 is not supported (this supervisor speaks 1)" } });
    expect(answers[2]).toMatchObject({ seq: 2, ok: false, error: { category: "invalid-input", message: 'unknown operation "frobnicate"' } });
    expect(answers[3]).toEqual({ v: 1, seq: 3, ok: true, result: [] });
    expect(await client.status()).toEqual([]);
  });

  it("runs healthchecks: starting → healthy → unhealthy, visible in status and events", async () => {
    const client = await h.connect();
    const events = collect(client.events(), (items) => items.filter((e) => e.type === "health_status").length >= 2, 15_000);
    await new Promise((r) => setTimeout(r, 100));
    const spec = await h.run("db-1", "db", ["sleep", "30"], {
      // a long start period: failures before the first success do not count, so it stays "starting"
      healthcheck: { argv: ["sh", "-c", "cat ready"], intervalMs: 100, timeoutMs: 1000, retries: 2, startPeriodMs: 60_000, startIntervalMs: 50 },
    });
    await client.watch(spec);
    await new Promise((r) => setTimeout(r, 300));
    expect((await client.status())[0]).toMatchObject({ health: "starting", state: "running" });
    writeFileSync(join(spec.dir, "ready"), "ok\n");
    const healthy = await waitForState(client, "db-1", (s) => s.health === "healthy", 5000, "healthy");
    expect(healthy.healthLog!.at(-1)).toMatchObject({ exitCode: 0, output: "ok\n" });
    rmSync(join(spec.dir, "ready"));
    const unhealthy = await waitForState(client, "db-1", (s) => s.health === "unhealthy", 5000, "unhealthy");
    expect(unhealthy.failingStreak).toBeGreaterThanOrEqual(2);
    expect(unhealthy.healthLog!.length).toBeLessThanOrEqual(5);
    expect((await events).filter((e) => e.type === "health_status").map((e) => e.health)).toEqual(["healthy", "unhealthy"]);
    await client.stopping(["db-1"]);
    h.runtime.signal("db-1", "SIGKILL");
    await waitForState(client, "db-1", (s) => s.state === "stopped", 5000, "stopped");
  });

  it("starts one daemon for concurrent clients and exits when idle with no container left", async () => {
    const [a, b] = await Promise.all([h.connect(300), h.connect(300)]);
    expect(a.info.pid).toBe(b.info.pid);
    const pid = a.info.pid;
    a.close();
    b.close();
    await waitFor(() => !alive(pid), 5000, "the idle supervisor to exit");
    expect(existsSync(supervisorPaths(h.runDir, h.project).pidFile)).toBe(false);
  });

  it("answers an unknown container with a not-found error and a shutdown request", async () => {
    const client = await h.connect();
    await expect(client.forget("nope")).rejects.toThrow(/container "nope" is not supervised in project demo/);
    const pid = client.info.pid;
    await client.shutdown();
    await waitFor(() => !alive(pid), 5000, "shutdown");
  });
});

describe("ensureSupervisor errors", () => {
  it("names the log when the daemon cannot start", async () => {
    const h = createHarness();
    try {
      await expect(ensureSupervisor(h.project, h.stateDir, h.runDir, { entry: daemonEntry, runtime: "nonesuch", startTimeoutMs: 2000 })).rejects.toThrow(/did not start/);
      await waitFor(() => readFileSync(supervisorPaths(h.runDir, h.project).log, "utf8").includes('unknown runtime "nonesuch"'), 3000, "the log");
    } finally {
      await h.cleanup();
    }
  });
});
