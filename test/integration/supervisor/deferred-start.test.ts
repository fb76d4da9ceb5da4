// The deferred start of `up -d` (SupervisorLaunch): containers started while
// no supervisor runs are handed over in a file with their FIFOs held open, the
// daemon is launched without waiting, and it takes them over at boot; a daemon
// that dies before it listens leaves a stale lock, and the next command's
// supervisor takes the same containers over.
import { constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { claimSupervisorStart, ensureSupervisor, SupervisorClient, SupervisorLaunch } from "../../../src/supervisor/client.js";
import { PerlHelper } from "../../../src/fs/perl-helper.js";
import { handoffFile, lockOwner, supervisorAnswers, supervisorPaths } from "../../../src/supervisor/paths.js";
import { DEFAULT_ROTATION } from "../../../src/supervisor/log-rotation.js";
import type { SupervisedContainer } from "../../../src/supervisor/protocol.js";
import { alive, collect, createHarness, daemonEntry, waitFor, waitForState, type Harness } from "./harness.js";

const built = existsSync(daemonEntry);

// Launched by this process (a spawn), or forked by the perl helper, as an `up -d` does where perl runs (DaemonLauncher).
const launchers = [
  { by: "this process", helper: () => undefined },
  { by: "the perl helper", helper: () => PerlHelper.create()! },
];

describe.skipIf(!built || skipUnlessRoot("supervisor deferred-start tests")).each(launchers)("supervisor launched without waiting (up -d), by $by", ({ helper: makeHelper }) => {
  let h: Harness;
  let before: HostSnapshot;
  let helper: PerlHelper | undefined;
  const clients: SupervisorClient[] = [];
  beforeEach(() => {
    h = createHarness("deferred");
    helper = makeHelper();
    before = snapshotHost([h.stateDir, h.runDir]);
  });
  afterEach(async () => {
    helper?.close();
    for (const c of clients.splice(0)) c.close();
    await h.cleanup();
    // Only what this test can have made (processes and files under its folders): other tests share the host.
    const left = diffSnapshots(before, snapshotHost([h.stateDir, h.runDir])).filter((item) => item.includes(h.stateDir) || item.includes(h.runDir));
    expect(left).toEqual([]);
  });

  /** What the engine does for one container in deferred mode: hand it over, spawn it, hold its FIFOs. */
  async function startHandedOver(launch: SupervisorLaunch, id: string, argv: string[]): Promise<SupervisedContainer> {
    const dir = h.runtime.create(id, argv);
    const spec: SupervisedContainer = { id, service: id, index: 1, dir, restart: { condition: "never" }, logging: DEFAULT_ROTATION };
    const fifos = ["stdout.fifo", "stderr.fifo"].map((f) => join(dir, f));
    execFileSync("mkfifo", ["-m", "600", ...fifos]);
    const held = fifos.map((f) => openSync(f, constants.O_RDWR));
    launch.handOver(spec, Date.now());
    await h.runtime.start(id);
    launch.hold(held, fifos);
    return spec;
  }

  const claim = async (entry = daemonEntry): Promise<SupervisorLaunch> => {
    const c = await claimSupervisorStart(h.project, h.stateDir, h.runDir, { entry, runtime: "host-process", idleMs: 500, ...(helper ? { launcher: helper } : {}) });
    if (!(c instanceof SupervisorLaunch)) throw new Error("a supervisor already ran");
    return c;
  };

  it("takes over what was started before it ran: a line written by a container that ended before the boot, the exit of one still running; lock and handoff file gone", async () => {
    const paths = supervisorPaths(h.runDir, h.project);
    const launch = await claim();
    expect(lockOwner(paths.lock)).toBe(process.pid);
    await startHandedOver(launch, "quick-1", ["sh", "-c", "echo early-line; exit 4"]);
    await startHandedOver(launch, "slow-1", ["sh", "-c", "echo first; sleep 1.5; echo last"]);
    // The quick one has ended with no supervisor: its line lives in the pipe only because it is held.
    await waitFor(() => existsSync(join(h.runtime.dirOf("quick-1"), "exit")), 5000, "quick-1 to end");
    expect(JSON.parse(readFileSync(handoffFile(h.stateDir, h.project), "utf8")).containers.map((c: { spec: SupervisedContainer }) => c.spec.id)).toEqual(["quick-1", "slow-1"]);

    await launch.launch();
    const daemon = lockOwner(paths.lock);
    expect(daemon).not.toBe(process.pid); // the lock names the daemon until it listens
    expect(await supervisorAnswers(paths)).toBe(true);
    await waitFor(() => !existsSync(paths.lock), 5000, "the daemon to release the start lock");
    expect(existsSync(handoffFile(h.stateDir, h.project))).toBe(false);
    expect(Number(readFileSync(paths.pidFile, "utf8").trim())).toBe(daemon);

    const client = await SupervisorClient.connect(paths.socket);
    clients.push(client);
    expect(await waitForState(client, "quick-1", (s) => s.state === "exited", 5000, "exited")).toMatchObject({ exitCode: 4 });
    // EOF of the running one comes only if the daemon closed the write ends it inherited.
    expect(await waitForState(client, "slow-1", (s) => s.state === "exited", 8000, "exited")).toMatchObject({ exitCode: 0 });
    const lines = await collect(client.logs({}), () => false, 5000);
    expect(lines.map((l) => `${l.service}:${l.l}`).sort()).toEqual(["quick-1:early-line", "slow-1:first", "slow-1:last"]);
  });

  it("a daemon that dies before it listens: the next command sees the stale lock, starts a supervisor, and it takes the handed-over containers", async () => {
    const paths = supervisorPaths(h.runDir, h.project);
    const broken = join(mkdtempSync(join(tmpdir(), "stack-broken-")), "main.js");
    writeFileSync(broken, "process.exit(3);\n");
    try {
      const launch = await claim(broken);
      await startHandedOver(launch, "app-1", ["sh", "-c", "echo before; sleep 1; echo after; exec sleep 30"]);
      await launch.launch();
      const dead = lockOwner(paths.lock);
      await waitFor(() => !alive(dead), 5000, "the broken daemon to exit");
      expect(await supervisorAnswers(paths, 2000)).toBe(false); // a dead holder ends the wait at once
      const client = await ensureSupervisor(h.project, h.stateDir, h.runDir, { entry: daemonEntry, runtime: "host-process", idleMs: 500 });
      clients.push(client);
      expect(await waitForState(client, "app-1", (s) => s.state === "running", 5000, "running")).toBeTruthy();
      const lines = await collect(client.logs({ follow: true }), (items) => items.length >= 2, 8000);
      expect(lines.map((l) => l.l)).toEqual(["before", "after"]);
      expect(existsSync(handoffFile(h.stateDir, h.project))).toBe(false);
      h.runtime.signal("app-1", "SIGKILL");
      await waitForState(client, "app-1", (s) => s.state === "exited", 5000, "exited");
    } finally {
      rmSync(join(broken, ".."), { recursive: true, force: true });
    }
  });

  it("a supervisor that runs is used as is: no lock is taken", async () => {
    const first = await h.connect();
    clients.push(first);
    const c = await claimSupervisorStart(h.project, h.stateDir, h.runDir, { entry: daemonEntry, runtime: "host-process", idleMs: 500 });
    expect(c).toBeInstanceOf(SupervisorClient);
    clients.push(c as SupervisorClient);
    expect(existsSync(supervisorPaths(h.runDir, h.project).lock)).toBe(false);
  });
});

describe("supervisorAnswers", () => {
  it("answers false at once without a lock or socket, and when the lock's holder is dead", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "stack-sup-answers-"));
    try {
      const paths = supervisorPaths(runDir, "p");
      const t0 = Date.now();
      expect(await supervisorAnswers(paths, 5000)).toBe(false);
      // no process has pid 2^22+1 (above pid_max's highest value)
      const { mkdirSync } = await import("node:fs");
      mkdirSync(paths.dir, { recursive: true });
      writeFileSync(paths.lock, `${2 ** 22 + 1}\n`);
      expect(await supervisorAnswers(paths, 5000)).toBe(false);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it("waits while a live holder starts it, up to its limit", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "stack-sup-answers-"));
    const { spawn } = await import("node:child_process");
    const holder = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const paths = supervisorPaths(runDir, "p");
      const { mkdirSync } = await import("node:fs");
      mkdirSync(paths.dir, { recursive: true });
      writeFileSync(paths.lock, `${holder.pid}\n`);
      const t0 = Date.now();
      expect(await supervisorAnswers(paths, 400)).toBe(false);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
    } finally {
      holder.kill();
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});


