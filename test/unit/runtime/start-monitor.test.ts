// start() with deps.spawnMonitor (the perl helper forks the monitor): nothing
// is spawned from this process, the request names the FIFOs, the exit file
// and the runtime's argv; keepOutput gets the FIFOs' read-write descriptors;
// a monitor that cannot be started is a SystemError naming the container, and
// no descriptor is left open.
import { closeSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ContainerRuntime } from "../../../src/runtime/container.js";
import { makeService } from "../../helpers/model.js";
import { FakeRunner, fakeRuntimeDeps } from "./fakes.js";

describe("ContainerRuntime.start with a forked monitor", () => {
  let base: string;
  let runner: FakeRunner;
  let requests: Array<{ out: string; err: string; exitFile: string; pipeBytes: number; argv: string[] }>;
  let monitor: (argv: string[]) => Promise<void>;
  let rt: ContainerRuntime;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), "stack-rt-monitor-"));
    requests = [];
    // The monitor "runs": runc writes the pid file.
    monitor = async (argv) => writeFileSync(argv[argv.indexOf("--pid-file") + 1]!, "77");
    runner = new FakeRunner(() => ({}), () => {
      throw new Error("nothing may be spawned from this process");
    });
    rt = new ContainerRuntime(fakeRuntimeDeps(base, runner, {
      pipeBufferBytes: 1 << 20,
      spawnMonitor: async (out, err, exitFile, pipeBytes, argv) => {
        requests.push({ out, err, exitFile, pipeBytes, argv });
        await monitor(argv);
      },
    }));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const create = async (id: string) => {
    const h = await rt.create({ project: "shop", id, service: makeService("web"), image: { Cmd: ["serve"] }, lowerdirs: ["/l"], network: { mode: "none" } });
    // The fake mounter mounts nothing: the rootfs dir stands in for it.
    mkdirSync(h.rootfs, { recursive: true });
    return h;
  };
  // Not counted: the event loop's one inotify descriptor, which start()'s wait for the pid file (a watch of the
  // container's folder) makes on first use and libuv keeps for every later watch.
  const openFds = () =>
    readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) !== "anon_inode:inotify";
      } catch {
        return false; // the listing's own descriptor, closed by now
      }
    }).length;

  test("the helper is asked; no process is spawned here; the descriptors are closed", async () => {
    const h = await create("web-1");
    const before = openFds();
    expect(await rt.start(h)).toEqual({ pid: 77 });
    expect(requests).toEqual([{ out: h.stdoutFifo, err: h.stderrFifo, exitFile: h.exitFile, pipeBytes: 1 << 20, argv: ["/usr/sbin/runc", "--root", join(base, "run", "runc"), "run", "--keep", "--bundle", h.dir, "--pid-file", h.pidFile, "web-1"] }]);
    expect(runner.detached).toEqual([]);
    expect(openFds()).toBe(before);
  });

  test("keepOutput receives the FIFOs open read-write", async () => {
    const h = await create("web-2");
    let kept: number[] = [];
    await rt.start(h, 1000, { keepOutput: (fds) => (kept = fds) });
    // (The fake runner's "mkfifo" makes plain files.)
    expect(kept.map((fd) => readlinkSync(`/proc/self/fd/${fd}`))).toEqual([h.stdoutFifo, h.stderrFifo]);
    expect(kept.map((fd) => /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]).map((f) => parseInt(f!, 8) & 3)).toEqual([2, 2]); // O_RDWR
    for (const fd of kept) closeSync(fd);
  });

  test("a monitor that cannot start: a SystemError naming the container, no descriptor left", async () => {
    const h = await create("web-3");
    monitor = async () => {
      throw new Error("No such file or directory");
    };
    const before = openFds();
    let kept = false;
    await expect(rt.start(h, 1000, { keepOutput: () => (kept = true) })).rejects.toThrow(/cannot start the monitor of container web-3: No such file or directory/);
    expect(kept).toBe(false);
    expect(openFds()).toBe(before);
    expect(existsSync(h.pidFile)).toBe(false);
  });
});
