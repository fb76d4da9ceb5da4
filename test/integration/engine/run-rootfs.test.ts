// `stack run --rm` in the foreground lets runc mount the container's overlay
// in the container's own mount namespace (docs/runtime.md, "Root filesystem
// and volumes"): nothing is mounted on the host while it runs or after, and
// the user, read_only and volumes behave as with a host mount. A new named
// volume that must be filled from the image takes the host mount instead.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { spawn } from "node:child_process";
import { afterEach, describe, expect, test } from "vitest";
import { stackBin } from "../../helpers/cli.js";
import type { StackRun } from "../../helpers/cli.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { IMAGE, makeProject, type Project } from "./harness.js";

function hostMountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(dir));
}

function stackCgroups(project: string): string[] {
  const root = "/sys/fs/cgroup";
  return readdirSync(root).flatMap((h) => {
    const d = join(root, h, "stack", project);
    return existsSync(d) ? readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(d, e.name)) : [];
  });
}

/** Runs `stack run` whose command touches /sig/up once it runs: the host's mounts under the state dir are read at that moment. */
async function runWatched(p: Project, args: string[]): Promise<{ run: StackRun; mountsWhileRunning: string[] }> {
  const signal = signalPath(p);
  chmodSync(dirname(signal), 0o777); // the container's user may not be root
  rmSync(signal, { force: true });
  const run = p.stack(args);
  let mountsWhileRunning: string[] | undefined;
  let settled = false;
  void run.finally(() => (settled = true));
  while (!settled && mountsWhileRunning === undefined) {
    if (existsSync(signal)) mountsWhileRunning = hostMountsUnder(p.stateDir);
    else await new Promise((r) => setTimeout(r, 10));
  }
  const done = await run;
  if (mountsWhileRunning === undefined) throw new Error(`the container never signalled: ${done.stderr}`);
  return { run: done, mountsWhileRunning };
}

/** A project whose one service, `app`, runs the test image without a network. */
async function appProject(name: string): Promise<Project> {
  const p = await makeProject(name);
  p.write(`
services:
  app:
    image: ${IMAGE}
    network_mode: none
`);
  return p;
}

/** The file a container touches through `-v ./sig:/sig` once it runs (its folder made; not there yet). */
function signalPath(p: Project): string {
  const signal = join(p.dir, "sig", "up");
  mkdirSync(dirname(signal), { recursive: true });
  return signal;
}

/** Waits up to 30 s for the container to touch `signal`. */
async function signalled(signal: string): Promise<void> {
  for (let i = 0; i < 3000 && !existsSync(signal); i++) await new Promise((r) => setTimeout(r, 10));
}

/** What a removed one-off must not leave: its folder, runc state, cgroups, record, mounts. */
function expectNothingLeft(p: Project): void {
  const containers = join(p.stateDir, "projects", p.name, "containers");
  expect(existsSync(containers) ? readdirSync(containers) : []).toEqual([]);
  const runcRoot = join(p.runDir, "runc");
  expect(existsSync(runcRoot) ? readdirSync(runcRoot) : []).toEqual([]);
  expect(stackCgroups(p.name)).toEqual([]);
  expect(hostMountsUnder(p.stateDir)).toEqual([]);
  const stateFile = join(p.stateDir, "projects", p.name, "state.json");
  const state = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as { containers: Record<string, unknown> }) : { containers: {} }; // down drops it
  expect(Object.keys(state.containers)).toEqual([]);
}

describe.skipIf(skipUnlessRoot("stack run with a runc-mounted rootfs"))("stack run --rm: the overlay mounted by runc", { timeout: 120_000 }, () => {
  let p: Project | undefined;

  afterEach(async () => {
    const current = p;
    p = undefined;
    await current?.dispose();
  });

  test("a user by name from the image's /etc/passwd, a read-only root and a bind mount, with nothing mounted on the host during or after", async () => {
    p = await makeProject("rootfs");
    p.write(`
services:
  app:
    image: ${IMAGE}
    user: app
    read_only: true
    network_mode: none
`);
    const { run, mountsWhileRunning } = await runWatched(p, ["run", "--rm", "-T", "-v", "./sig:/sig", "app", "sh", "-c", "id -un; id -G; echo $HOME; touch /x 2>/dev/null || echo read-only; touch /sig/up; sleep 0.3; exit 3"]);
    expect(run.stderr).toBe("");
    expect([run.exitCode, run.stdout]).toEqual([3, "app\n1000\n/home/app\nread-only\n"]);
    expect(mountsWhileRunning).toEqual([]);
    expectNothingLeft(p);

    const unknown = await p.stack(["run", "--rm", "-T", "-u", "ghost", "app", "true"]);
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toMatch(/unable to find user "ghost": no matching entry in the image's \/etc\/passwd/);
    expectNothingLeft(p);
  });

  test("what another command records while a run --rm runs stays recorded after the run's removal (it reads the state again)", async () => {
    p = await makeProject("rootkeep");
    p.write(`
services:
  app:
    image: ${IMAGE}
    network_mode: none
  idle:
    image: ${IMAGE}
    network_mode: none
    command: ["sleep", "3600"]
`);
    const signal = signalPath(p);
    const run = p.stack(["run", "--rm", "-T", "--no-deps", "-v", "./sig:/sig", "app", "sh", "-c", "touch /sig/up; while [ ! -e /sig/go ]; do sleep 0.05; done"]);
    await signalled(signal);
    const up = await p.stack(["up", "-d", "idle"]);
    expect(up.exitCode, up.stderr).toBe(0);
    writeFileSync(join(dirname(signal), "go"), "");
    const done = await run;
    expect([done.exitCode, done.stderr]).toEqual([0, ""]);
    const ps = await p.stack(["ps", "-a", "--format", "json"]);
    const listed = ps.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { Service: string; State: string });
    expect(listed.map((c) => [c.Service, c.State])).toEqual([["idle", "running"]]);
  });

  test("a new named volume is filled from the image (through a host mount), later runs use it without one", async () => {
    p = await makeProject("rootvol");
    p.write(`
services:
  app:
    image: ${IMAGE}
    network_mode: none
    volumes: [etc:/etc]
volumes:
  etc: {}
`);
    const first = await runWatched(p, ["run", "--rm", "-T", "-v", "./sig:/sig", "app", "sh", "-c", "echo kept > /etc/note; grep -c : /etc/passwd; touch /sig/up; sleep 0.3"]);
    expect([first.run.exitCode, first.run.stdout, first.run.stderr]).toEqual([0, "3\n", ""]);
    expect(first.mountsWhileRunning).toHaveLength(1); // the fallback: the overlay on the host, for the copy
    const volume = join(p.stateDir, "volumes", `${p.name}_etc`, "_data");
    expect(readFileSync(join(volume, "passwd"), "utf8")).toMatch(/^app:x:1000:1000:/m);
    expectNothingLeft(p);

    const second = await runWatched(p, ["run", "--rm", "-T", "-v", "./sig:/sig", "-u", "app", "app", "sh", "-c", "cat /etc/note; id -u; touch /sig/up; sleep 0.3"]);
    expect([second.run.exitCode, second.run.stdout, second.run.stderr]).toEqual([0, "kept\n1000\n", ""]);
    expect(second.mountsWhileRunning).toEqual([]);
    expectNothingLeft(p);
  });

  test("after the command of a foreground run --rm is killed, down removes its container (it has no monitor to record an exit)", async () => {
    p = await appProject("rootkill");
    const signal = signalPath(p);
    const cli = spawn(process.execPath, [stackBin, "run", "--rm", "-T", "-v", "./sig:/sig", "app", "sh", "-c", "touch /sig/up; exec sleep 60"], { cwd: p.dir, env: { ...process.env, ...p.env }, stdio: "ignore" });
    const exited = new Promise((r) => cli.on("exit", r));
    await signalled(signal);
    expect(existsSync(signal)).toBe(true);
    cli.kill("SIGKILL");
    await exited;
    const state = JSON.parse(readFileSync(join(p.stateDir, "projects", p.name, "state.json"), "utf8")) as { containers: Record<string, unknown> };
    expect(Object.keys(state.containers)).toEqual([expect.stringMatching(/-app-run-/)]); // the record is still there
    const t0 = Date.now();
    const down = await p.stack(["down", "-t", "0"]);
    expect([down.exitCode, down.stderr]).toEqual([0, expect.stringMatching(/Removed/)]);
    expect(Date.now() - t0).toBeLessThan(8000);
    expectNothingLeft(p);
  });

  test("a signal to the CLI reaches the container (not twice); a second SIGINT kills it; --rm then leaves nothing", async () => {
    p = await appProject("rootsig");
    const project = p;
    /** A cold run (no supervisor exists) whose output is gathered; resolves once "ready" is printed. */
    const client = (script: string) => {
      const cli = spawn(process.execPath, [stackBin, "run", "--rm", "-T", "app", "sh", "-c", script], { cwd: project.dir, env: { ...process.env, ...project.env }, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      const ready = new Promise<void>((resolve) => cli.stdout.on("data", (b: Buffer) => ((out += b.toString()), out.includes("ready") && resolve())));
      const exited = new Promise<number | null>((r) => cli.on("close", (code) => r(code)));
      return { cli, ready, exited, out: () => out };
    };
    const polite = client("trap 'echo got-int; exit 130' INT; echo ready; while true; do sleep 0.1; done");
    await polite.ready;
    polite.cli.kill("SIGINT");
    expect([await polite.exited, polite.out()]).toEqual([130, "ready\ngot-int\n"]);
    expectNothingLeft(p);

    const stubborn = client("trap 'echo int' INT; echo ready; while true; do sleep 0.1; done");
    await stubborn.ready;
    stubborn.cli.kill("SIGINT");
    for (let i = 0; i < 300 && !stubborn.out().includes("int\n"); i++) await new Promise((r) => setTimeout(r, 10));
    stubborn.cli.kill("SIGINT");
    expect([await stubborn.exited, stubborn.out()]).toEqual([137, "ready\nint\n"]); // one "int": the first signal went once
    expectNothingLeft(p);
  });

  test("its image cannot be removed while it runs: the layers are in use in the container's mount namespace", async () => {
    p = await appProject("rootrmi");
    const signal = signalPath(p);
    const run = p.stack(["run", "--rm", "-T", "-v", "./sig:/sig", "app", "sh", "-c", "touch /sig/up; sleep 2; cat /etc/passwd | grep -c :"]);
    await signalled(signal);
    expect(hostMountsUnder(p.stateDir)).toEqual([]);
    const rmi = await p.stack(["image", "rm", IMAGE]);
    expect(rmi.exitCode).not.toBe(0);
    expect(rmi.stderr).toMatch(/is in use: its layer .* is mounted/);
    const done = await run;
    expect([done.exitCode, done.stdout]).toEqual([0, "3\n"]);
    expectNothingLeft(p);
  });
});
