// The lifecycle against recording fakes: what would be mounted, written to
// cgroupfs and run, in which order, and what is undone when a step fails.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ContainerRuntime } from "../../../src/runtime/container.js";
import { OciRuntime } from "../../../src/runtime/oci-runtime.js";
import { makeService } from "../../helpers/model.js";
import { FakeCgroupFs, FakeMounter, FakeRunner } from "./fakes.js";

describe("ContainerRuntime on fakes", () => {
  let base: string;
  let fs: FakeCgroupFs;
  let mounter: FakeMounter;
  let runner: FakeRunner;
  let rt: ContainerRuntime;
  let runtimeState: Record<string, string> = {};
  let signals: Array<[number, string]> = [];
  let onSignal: () => void = () => undefined;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), "stack-rt-unit-"));
    fs = new FakeCgroupFs({}, ["/cg", "/cg/memory", "/cg/pids"]);
    mounter = new FakeMounter();
    // The fake mount "shows" the image's passwd inside the rootfs.
    const mount = mounter.mount.bind(mounter);
    mounter.mount = async (m) => {
      await mount(m);
      mkdirSync(join(m.target, "etc"), { recursive: true });
      writeFileSync(join(m.target, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
    };
    runtimeState = {};
    signals = [];
    onSignal = () => undefined;
    runner = new FakeRunner(
      (argv) => {
        if (argv.includes("kill")) onSignal();
        const i = argv.indexOf("state");
        if (i > 0) {
          const id = argv[i + 1]!;
          return runtimeState[id] ? { stdout: JSON.stringify({ id, pid: 99, status: runtimeState[id] }) } : { exitCode: 1, stderr: "container does not exist" };
        }
        return {};
      },
      (argv) => {
        // The monitor "runs": runc writes the pid file, the container is running.
        const pidFile = argv[argv.indexOf("--pid-file") + 1]!;
        writeFileSync(pidFile, "99");
        runtimeState[argv[argv.length - 1]!] = "running";
        mkdirSync(join(argv[argv.indexOf("--root") + 1]!, argv[argv.length - 1]!), { recursive: true }); // runc's own state folder
      },
    );
    rt = new ContainerRuntime({
      stateDir: join(base, "state"),
      runDir: join(base, "run"),
      cgroupRoot: "/cg",
      cgroupVersion: 1,
      cgroupFs: fs,
      mounter,
      runner,
      runtime: new OciRuntime(runner, { name: "runc", binary: "/usr/sbin/runc" }, join(base, "run", "runc")),
      signal: (pid, sig) => {
        signals.push([pid, sig]);
        onSignal();
      },
      sleep: async () => undefined,
      hostRlimits: {},
      arch: "x64",
      statDevice: (path) => (path === "/dev/fuse" ? { kind: "c", rdev: 10 * 256 + 229, mode: 0o20600, uid: 0, gid: 0 } : undefined),
    });
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  test("create mounts the overlay, makes the cgroup with limits, writes config.json and the handle", async () => {
    const h = await rt.create({ project: "shop", id: "web-1", service: makeService("web", { user: "app", mem_limit: 64 << 20, pids_limit: 9, stop_signal: "SIGQUIT", devices: [{ source: "/dev/fuse", target: "/dev/fuse", permissions: "rwm" }] }), image: { Cmd: ["serve"] }, lowerdirs: ["/layers/a"], network: { mode: "none" } });
    const dir = join(base, "state/projects/shop/containers/web-1");
    expect(mounter.mounted).toEqual([{ type: "overlay", source: "overlay", target: `${dir}/rootfs`, options: ["lowerdir=/layers/a", `upperdir=${dir}/upper`, `workdir=${dir}/work`] }]);
    expect(fs.writes).toEqual([
      ["/cg/memory/stack/shop/web-1/memory.limit_in_bytes", String(64 << 20)],
      ["/cg/memory/stack/shop/web-1/memory.memsw.limit_in_bytes", String(128 << 20)],
      ["/cg/pids/stack/shop/web-1/pids.max", "9"],
    ]);
    const spec = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    expect(spec.process.user).toEqual({ uid: 1000, gid: 1000 });
    expect(spec.linux.cgroupsPath).toBe("/stack/shop/web-1");
    expect(spec.hostname).toBe("web-1");
    expect(readFileSync(join(dir, "hostname"), "utf8")).toBe("web-1\n");
    expect(spec.mounts.filter((m: { destination: string }) => m.destination.startsWith("/etc/")).map((m: { source: string }) => m.source)).toEqual([join(dir, "hostname"), join(dir, "hosts")]);
    expect(spec.linux.devices).toEqual([{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0 }]);
    expect(h).toMatchObject({ id: "web-1", dir, stopSignal: "SIGQUIT", exitFile: `${dir}/exit` });
    expect(rt.load("shop", "web-1")).toEqual(h);
    await expect(rt.create({ project: "shop", id: "web-1", service: makeService("web"), image: {}, lowerdirs: ["/l"], network: { mode: "none" } })).rejects.toThrow(/already exists/);
  });

  test("a failing step undoes the earlier ones (unmount, no cgroup, no dir)", async () => {
    await expect(rt.create({ project: "shop", id: "web-2", service: makeService("web", { user: "ghost" }), image: { Cmd: ["x"] }, lowerdirs: ["/l"], network: { mode: "none" } })).rejects.toThrow(/unable to find user "ghost"/);
    expect(mounter.log).toEqual([`mount overlay ${join(base, "state/projects/shop/containers/web-2/rootfs")}`, `umount ${join(base, "state/projects/shop/containers/web-2/rootfs")}`]);
    expect(fs.writes).toEqual([]);
    expect(existsSync(join(base, "state/projects/shop/containers/web-2"))).toBe(false);
  });

  test("bad ids are refused", async () => {
    await expect(rt.create({ project: "p", id: "../x", service: makeService("w"), image: {}, lowerdirs: [], network: { mode: "none" } })).rejects.toThrow(/container id "..\/x" is not valid/);
    expect(() => rt.load("p", "none")).toThrow(/no container "none" in project "p"/);
  });

  test("start spawns the detached monitor around `runc run --keep`; status follows runc state and the exit file; remove cleans up", async () => {
    const h = await rt.create({ project: "shop", id: "web-3", service: makeService("web"), image: { Cmd: ["serve"] }, lowerdirs: ["/l"], network: { mode: "none" } });
    expect(await rt.status(h)).toEqual({ status: "created" });
    expect(await rt.start(h)).toEqual({ pid: 99 });
    const root = join(base, "run", "runc");
    expect(runner.detached).toEqual([
      ["sh", "-c", 'exit_file=$1; size=$2; shift 2; "$@"; echo $? > "$exit_file.tmp" && mv "$exit_file.tmp" "$exit_file"', "stack-monitor", h.exitFile, "0", "/usr/sbin/runc", "--root", root, "run", "--keep", "--bundle", h.dir, "--pid-file", h.pidFile, "web-3"],
    ]);
    expect(await rt.status(h)).toEqual({ status: "running", pid: 99 });
    expect(rt.namespacePath(h)).toBe("/proc/99/ns/net");
    await expect(rt.start(h)).rejects.toThrow(/web-3 is already running/);
    runtimeState["web-3"] = "paused";
    expect((await rt.status(h)).status).toBe("paused");
    writeFileSync(h.exitFile, "137\n");
    fs.files.set("/cg/memory/stack/shop/web-3/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    expect(await rt.status(h)).toEqual({ status: "exited", exitCode: 137, oomKilled: true });
    expect(() => rt.namespacePath(h)).toThrow(/web-3 is not running, so its net namespace cannot be shared/);
    await rt.remove(h);
    // Stopped (the monitor wrote the exit): runc's state folder goes without a `runc delete` process.
    expect(runner.calls.some((c) => c.includes("delete"))).toBe(false);
    expect(existsSync(join(root, "web-3"))).toBe(false);
    expect(mounter.mounted).toEqual([]);
    expect(fs.dirs.has("/cg/memory/stack/shop/web-3")).toBe(false);
    expect(existsSync(h.dir)).toBe(false);
  });

  test("runtime state without a recorded exit (a start cut short) is deleted by the runtime itself", async () => {
    const h = await rt.create({ project: "shop", id: "web-5", service: makeService("web"), image: { Cmd: ["serve"] }, lowerdirs: ["/l"], network: { mode: "none" } });
    const root = join(base, "run", "runc");
    mkdirSync(join(root, "web-5"), { recursive: true });
    await rt.remove(h);
    expect(runner.calls).toContainEqual(["/usr/sbin/runc", "--root", root, "delete", "--force", "web-5"]);
  });

  test("a non-runc runtime is asked to delete even a stopped container", async () => {
    const crun = new OciRuntime(runner, { name: "crun", binary: "/usr/bin/crun" }, join(base, "run", "crun"));
    mkdirSync(join(base, "run", "crun", "x-1"), { recursive: true });
    await crun.deleteStopped("x-1");
    expect(runner.calls).toContainEqual(["/usr/bin/crun", "--root", join(base, "run", "crun"), "delete", "--force", "x-1"]);
    const runcRt = new OciRuntime(runner, { name: "runc", binary: "/usr/sbin/runc" }, join(base, "run", "runc"));
    mkdirSync(join(base, "run", "runc", "x-2", "sub"), { recursive: true });
    await runcRt.deleteStopped("x-2");
    expect(existsSync(join(base, "run", "runc", "x-2"))).toBe(false);
    expect(runner.calls.filter((c) => c.includes("delete"))).toHaveLength(1);
  });

  test("a container whose runtime fails before the pid file is a start error", async () => {
    const h = await rt.create({ project: "shop", id: "web-4", service: makeService("web"), image: { Cmd: ["serve"] }, lowerdirs: ["/l"], network: { mode: "none" } });
    const failing = new FakeRunner(() => ({}), () => writeFileSync(h.exitFile, "1\n"));
    (rt as unknown as { deps: { runner: FakeRunner } }).deps.runner = failing;
    await expect(rt.start(h)).rejects.toThrow(/container web-4 failed to start \(runtime exit 1\)/);
  });

  test("stop signals PID 1 straight away (no runc kill), by any spelling of the signal; one Node cannot name goes through the runtime", async () => {
    const h = await rt.create({ project: "shop", id: "web-9", service: makeService("web", { stop_signal: "QUIT" }), image: { Cmd: ["serve"] }, lowerdirs: ["/l"], network: { mode: "none" } });
    await rt.start(h);
    onSignal = () => writeFileSync(h.exitFile, "0\n"); // the container obeys at once
    runner.calls = [];
    await rt.stop(h, { graceMs: 1000 });
    expect(signals).toEqual([[99, "SIGQUIT"]]);
    expect(runner.calls.some((c) => c.includes("kill"))).toBe(false);
    rmSync(h.exitFile);
    await rt.stop(h, { signal: "15", graceMs: 1000 });
    expect(signals[1]).toEqual([99, "SIGTERM"]);
    rmSync(h.exitFile);
    await rt.stop(h, { signal: "SIGNOPE", graceMs: 1000 });
    expect(signals).toHaveLength(2);
    expect(runner.calls.some((c) => c.includes("kill") && c.includes("SIGNOPE"))).toBe(true);
  });

  test("signalName: names, bare names and numbers; unknown ones are undefined", async () => {
    const { signalName } = await import("../../../src/runtime/container.js");
    expect(signalName("SIGTERM")).toBe("SIGTERM");
    expect(signalName("term")).toBe("SIGTERM");
    expect(signalName("9")).toBe("SIGKILL");
    expect(signalName("SIGNOPE")).toBeUndefined();
    expect(signalName("999")).toBeUndefined();
  });

  test("remove runs no runtime delete when the runtime keeps no state for the container (run --rm: runc run without --keep)", async () => {
    const h = await rt.create({ project: "shop", id: "job-1", service: makeService("job"), image: { Cmd: ["true"] }, lowerdirs: ["/l"], network: { mode: "none" } });
    runner.calls = [];
    expect(await rt.runForeground(h, { tty: false, keep: false })).toBe(0);
    expect(runner.calls[0]).toEqual(["/usr/sbin/runc", "--root", join(base, "run", "runc"), "run", "--bundle", h.dir, "--pid-file", h.pidFile, "job-1"]);
    await rt.remove(h);
    expect(runner.calls.some((c) => c.includes("delete"))).toBe(false);
    expect(existsSync(h.dir)).toBe(false);
  });
});
