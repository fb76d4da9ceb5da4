// The runtime for real, as root: busybox containers on an overlay rootfs,
// runc under a temporary run dir, cgroups under the host's /sys/fs/cgroup.
// Every test checks afterwards that it left no mount, cgroup, runc state or
// process behind.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, symlinkSync, writeFileSync, constants, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { ServiceModel } from "../../../src/schema/model.js";
import { openRuntime, type ContainerHandle, type ContainerRuntime } from "../../../src/runtime/index.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { makeService } from "../../helpers/model.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { makeBusyboxRootfs } from "./busybox-rootfs.js";

const PROJECT = "rtitest";

/**
 * The host-wide leak check, narrowed to what these tests can make: mounts and
 * processes under the test's dir, cgroups of the test's project, runc state
 * under its root. (Other work on the host creates netns and links meanwhile.)
 */
function assertNoRuntimeLeaks(before: HostSnapshot, base: string, runcRoot: string): void {
  const left = diffSnapshots(before, snapshotHost([base], [runcRoot])).filter(
    (l) => l.startsWith("mounts:") || l.startsWith("processes:") || l.startsWith("runc:") || (l.startsWith("cgroups:") && l.includes(`/stack/${PROJECT}`)),
  );
  if (left.length > 0) throw new Error(`the test left resources behind:\n  ${left.join("\n  ")}`);
}
const MiB = 1024 * 1024;

describe.skipIf(skipUnlessRoot("runtime lifecycle tests"))("container runtime (runc, overlayfs, cgroups)", () => {
  let base: string;
  let lower: string;
  let rt: ContainerRuntime;
  let before: HostSnapshot;
  let runcRoot: string;
  let n = 0;

  beforeEach(() => {
    base = mkdtempSync("/tmp/stack-rt-");
    lower = makeBusyboxRootfs(join(base, "lower"));
    runcRoot = join(base, "run", "runc");
    before = snapshotHost([base], [runcRoot]);
    rt = openRuntime({ stateDir: join(base, "state"), runDir: join(base, "run") });
  });

  afterEach(async () => {
    // Leaks are checked on what the test's own stop/remove calls left; the clean-up after only tidies a failed test.
    try {
      assertNoRuntimeLeaks(before, base, runcRoot);
    } finally {
      await rt.cleanupLeftovers(PROJECT);
      rmSync(base, { recursive: true, force: true });
    }
  });

  async function create(over: Partial<ServiceModel>, extra: { volumeNames?: Record<string, string> } = {}): Promise<ContainerHandle> {
    n++;
    return rt.create({
      project: PROJECT,
      id: `c${n}-${Date.now().toString(36)}`,
      service: makeService("svc", over),
      image: { Env: ["FROM_IMAGE=1"] },
      lowerdirs: [lower],
      network: { mode: "none" },
      hostname: "box",
      ...extra,
    });
  }

  /** Opens the output FIFOs like the supervisor does, before start, and collects what the container writes. */
  function capture(h: ContainerHandle): { stdout: () => string; stderr: () => string; close: () => void } {
    // create() made the FIFOs (with the overlay mount, in one process).
    for (const f of [h.stdoutFifo, h.stderrFifo]) if (!statSync(f).isFIFO()) throw new Error(`${f} is not a FIFO`);
    const chunks = { out: "", err: "" };
    const fds = [openSync(h.stdoutFifo, constants.O_RDWR | constants.O_NONBLOCK), openSync(h.stderrFifo, constants.O_RDWR | constants.O_NONBLOCK)];
    const drain = () => {
      const buf = Buffer.alloc(65536);
      fds.forEach((fd, i) => {
        for (;;) {
          let got = 0;
          try {
            got = require_readSync(fd, buf);
          } catch {
            got = 0;
          }
          if (got <= 0) break;
          if (i === 0) chunks.out += buf.subarray(0, got).toString();
          else chunks.err += buf.subarray(0, got).toString();
        }
      });
    };
    return {
      stdout: () => (drain(), chunks.out),
      stderr: () => (drain(), chunks.err),
      close: () => fds.forEach((fd) => closeSync(fd)),
    };
  }

  async function runToEnd(over: Partial<ServiceModel>): Promise<{ exitCode: number; stdout: string; stderr: string; oomKilled?: boolean; handle: ContainerHandle }> {
    const h = await create(over);
    const io = capture(h);
    try {
      await rt.start(h);
      const exitCode = await rt.wait(h, 20_000);
      const st = await rt.status(h);
      return { exitCode, stdout: io.stdout(), stderr: io.stderr(), oomKilled: st.oomKilled, handle: h };
    } finally {
      io.close();
      await rt.remove(h);
    }
  }

  test("isolation: own PID 1, hostname and mount table; the exit code is recorded", async () => {
    const r = await runToEnd({ command: ["sh", "-c", "echo pid=$$; hostname; cat /etc/hostname; grep -c localhost /etc/hosts; cat /proc/mounts; echo env=$FROM_IMAGE; exit 42"] });
    expect(r.exitCode).toBe(42);
    expect(r.stdout).toContain("pid=1\n");
    expect(r.stdout).toContain("box\nbox\n2\n"); // hostname, /etc/hostname, /etc/hosts
    expect(r.stdout).toMatch(/^overlay \/ overlay /m);
    const mountPoints = r.stdout.split("\n").filter((l) => l.startsWith("/") || l.includes(" /")).map((l) => l.split(" ")[1]);
    expect(mountPoints).not.toContain("/work"); // the host's mounts stay invisible
    expect(mountPoints.filter((m) => m?.startsWith("/tmp/"))).toEqual([]);
    expect(r.stdout).toContain("env=1");
  });

  test("an exited container starts again with its rootfs changes and cgroup limits", async () => {
    const h = await create({ pids_limit: 16, command: ["sh", "-c", "echo run >> /runs; wc -l < /runs; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"] });
    const io = capture(h);
    try {
      await rt.start(h);
      expect(await rt.wait(h, 20_000)).toBe(0);
      await rt.start(h);
      expect(await rt.wait(h, 20_000)).toBe(0);
      expect(io.stdout()).toBe("1\n16\n2\n16\n");
    } finally {
      io.close();
      await rt.remove(h);
    }
  });

  test("memory limit is enforced and an OOM kill is reported (137, oomKilled)", async () => {
    const r = await runToEnd({ mem_limit: 16 * MiB, memswap_limit: 16 * MiB, command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"] });
    expect(r.exitCode).toBe(137);
    expect(r.oomKilled).toBe(true);
    const ok = await runToEnd({ mem_limit: 16 * MiB, memswap_limit: 16 * MiB, command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=1"] });
    expect(ok.exitCode).toBe(0);
    expect(ok.oomKilled).toBe(false);
  });

  test("pids limit caps the number of processes; CPU quota and memory limit are visible in cgroupfs", async () => {
    const h = await create({ pids_limit: 8, cpus: 0.5, mem_limit: 32 * MiB, command: ["sleep", "60"] });
    try {
      await rt.start(h);
      // The quota is visible from inside too (before the fork test fills the pids budget).
      const inside = await rt.exec(h, ["cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"]);
      expect(inside.stdout.trim()).toBe("50000");
      const forks = await rt.exec(h, ["sh", "-c", "for i in $(seq 20); do sleep 30 >/dev/null 2>&1 & done; echo started"]);
      expect(forks.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
      const stats = rt.stats(h);
      expect(stats.pids).toBeGreaterThan(1);
      expect(stats.pids).toBeLessThanOrEqual(8);
      expect(stats.memoryLimit).toBe(32 * MiB);
      expect(readFileSync(`/sys/fs/cgroup/pids/${h.cgroup}/pids.max`, "utf8").trim()).toBe("8");
      expect(readFileSync(`/sys/fs/cgroup/cpu/${h.cgroup}/cpu.cfs_quota_us`, "utf8").trim()).toBe("50000");
      expect(readFileSync(`/sys/fs/cgroup/cpu/${h.cgroup}/cpu.cfs_period_us`, "utf8").trim()).toBe("100000");
    } finally {
      await rt.stop(h, { graceMs: 200 });
      await rt.remove(h);
    }
  });

  test("user switching: name, uid:gid, supplementary groups", async () => {
    const app = await runToEnd({ user: "app", command: ["id"] });
    expect(app.stdout.trim()).toBe("uid=1000(app) gid=1000(app) groups=50(staff)");
    const numeric = await runToEnd({ user: "65534:50", command: ["id"] });
    expect(numeric.stdout.trim()).toBe("uid=65534(nobody) gid=50(staff)");
    await expect(create({ user: "ghost", command: ["id"] })).rejects.toThrow(/unable to find user "ghost"/);
  });

  test("read-only rootfs refuses writes outside volumes and tmpfs", async () => {
    const r = await runToEnd({ read_only: true, tmpfs: ["/scratch"], command: ["sh", "-c", "touch /x; echo rc=$?; touch /scratch/ok && echo tmpfs-ok"] });
    expect(r.stdout).toContain("rc=1");
    expect(r.stderr).toContain("Read-only file system");
    expect(r.stdout).toContain("tmpfs-ok");
  });

  test("a named volume is filled from the image, and survives container removal", async () => {
    const vol = { type: "volume" as const, source: "data", target: "/data", read_only: false, volume: { nocopy: false } };
    const volumeNames = { data: `${PROJECT}_data` };
    const volDir = join(base, "state", "volumes", `${PROJECT}_data`, "_data");
    const first = await create({ volumes: [vol], command: ["sh", "-c", "cat /data/seed.txt; echo kept > /data/mine"] }, { volumeNames });
    await rt.start(first);
    expect(await rt.wait(first, 10_000)).toBe(0);
    await rt.remove(first);
    expect(readFileSync(join(volDir, "mine"), "utf8")).toBe("kept\n");
    expect(readFileSync(join(volDir, "seed.txt"), "utf8")).toBe("from-image\n");
    const second = await create({ volumes: [vol], command: ["cat", "/data/mine"] }, { volumeNames });
    const io = capture(second);
    try {
      await rt.start(second);
      expect(await rt.wait(second, 10_000)).toBe(0);
      expect(io.stdout()).toBe("kept\n");
    } finally {
      io.close();
      await rt.remove(second);
    }
  });

  test("an image VOLUME becomes an anonymous volume filled from the image; volumes_from shares it read-only", async () => {
    n++;
    const a = await rt.create({ project: PROJECT, id: `c${n}-vol`, service: makeService("svc", { command: ["sh", "-c", "echo a > /data/by-a; sleep 30"] }), image: { Volumes: { "/data": {} } }, lowerdirs: [lower], network: { mode: "none" } });
    try {
      await rt.start(a);
      for (let i = 0; i < 100 && !existsSync(join(a.dir, "volumes", "data", "_data", "by-a")); i++) await new Promise((r) => setTimeout(r, 20));
      n++;
      const b = await rt.create({
        project: PROJECT,
        id: `c${n}-from`,
        service: makeService("svc", { command: ["sh", "-c", "cat /data/seed.txt /data/by-a; echo b > /data/by-b || echo ro-ok"] }),
        image: {},
        lowerdirs: [lower],
        network: { mode: "none" },
        volumesFrom: [{ handle: a, read_only: true }],
      });
      const io = capture(b);
      try {
        await rt.start(b);
        expect(await rt.wait(b, 10_000)).toBe(0);
        expect(io.stdout()).toBe("from-image\na\nro-ok\n");
      } finally {
        io.close();
        await rt.remove(b);
      }
    } finally {
      await rt.stop(a, { graceMs: 100 });
      await rt.remove(a);
    }
  });

  test("exec runs in the container with its env, as another user, in another dir", async () => {
    const h = await create({ command: ["sleep", "30"], environment: { GREETING: "hello" } });
    try {
      await rt.start(h);
      const r = await rt.exec(h, ["sh", "-c", "echo $GREETING $EXTRA; id -u; pwd"], { user: "app", env: { EXTRA: "x" }, cwd: "/tmp" });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe("hello x\n1000\n/tmp\n");
      expect((await rt.exec(h, ["sh", "-c", "exit 7"])).exitCode).toBe(7);
    } finally {
      await rt.stop(h, { graceMs: 100 });
      await rt.remove(h);
    }
  });

  test("stop: the stop signal ends a cooperative container; a deaf one gets SIGKILL after the grace period", async () => {
    const polite = await create({ command: ["sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.1; done"] });
    await rt.start(polite);
    await new Promise((r) => setTimeout(r, 300));
    await rt.stop(polite, { graceMs: 5000 });
    expect((await rt.status(polite)).exitCode).toBe(3);
    await rt.remove(polite);

    const deaf = await create({ command: ["sh", "-c", "trap '' TERM; sleep 60 & wait; sleep 60"] });
    await rt.start(deaf);
    const t0 = Date.now();
    await rt.stop(deaf, { graceMs: 700 });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(700);
    expect(took).toBeLessThan(5000);
    expect(await rt.status(deaf)).toMatchObject({ status: "exited", exitCode: 137, oomKilled: false });
    await rt.remove(deaf);
  });

  test("pause and unpause freeze and thaw the whole group", async () => {
    const h = await create({ command: ["sleep", "30"] });
    try {
      await rt.start(h);
      await rt.pause(h);
      expect((await rt.status(h)).status).toBe("paused");
      expect(readFileSync(`/sys/fs/cgroup/freezer/${h.cgroup}/freezer.state`, "utf8").trim()).toBe("FROZEN");
      await rt.unpause(h);
      expect((await rt.status(h)).status).toBe("running");
      expect((await rt.exec(h, ["true"])).exitCode).toBe(0);
    } finally {
      await rt.stop(h, { graceMs: 100 });
      await rt.remove(h);
    }
  });

  test("init: true runs tini as PID 1 in front of the command", async () => {
    const r = await runToEnd({ init: true, command: ["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"] });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("/sbin/docker-init -- sh -c tr '\\0' ' ' < /proc/1/cmdline ");
  });

  test("default capabilities and seccomp; cap_add SYS_ADMIN allows mount; seccomp=unconfined turns the filter off", async () => {
    const r = await runToEnd({ command: ["sh", "-c", "grep -E '^(CapBnd|CapEff|Seccomp):' /proc/self/status; mount -t tmpfs none /mnt && echo mounted"] });
    expect(r.stdout).toContain("CapBnd:\t00000000a80425fb");
    expect(r.stdout).toContain("CapEff:\t00000000a80425fb");
    expect(r.stdout).toContain("Seccomp:\t2");
    expect(r.stdout).not.toContain("mounted");
    const admin = await runToEnd({ cap_add: ["SYS_ADMIN"], command: ["sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted"] });
    expect(admin.stdout).toContain("mounted");
    const app = await runToEnd({ user: "app", security_opt: ["seccomp=unconfined", "no-new-privileges:true"], command: ["sh", "-c", "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status"] });
    expect(app.stdout).toBe("CapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\n");
  });

  test("ulimits, devices, a bind mount made when missing, read-only binds", async () => {
    const hostDir = join(base, "made-by-stack");
    const roDir = join(base, "ro");
    mkdirSync(roDir);
    writeFileSync(join(roDir, "f"), "host\n");
    const r = await runToEnd({
      ulimits: { nofile: { soft: 256, hard: 512 } },
      devices: [{ source: "/dev/null", target: "/dev/mynull", permissions: "rwm" }],
      volumes: [
        { type: "bind", source: hostDir, target: "/out", read_only: false, bind: { create_host_path: true } },
        { type: "bind", source: roDir, target: "/in", read_only: true, bind: { create_host_path: false } },
      ],
      command: ["sh", "-c", "ulimit -n; ulimit -Hn; echo x > /dev/mynull && echo dev-ok; echo hi > /out/file; cat /in/f; echo no > /in/f || echo ro-ok"],
    });
    expect(r.stdout).toBe("256\n512\ndev-ok\nhost\nro-ok\n");
    expect(readFileSync(join(hostDir, "file"), "utf8")).toBe("hi\n");
  });

  test("a second container joins the first one's network namespace (network_mode: service:X)", async () => {
    const a = await create({ command: ["sleep", "30"] });
    try {
      await rt.start(a);
      const nsA = (await rt.exec(a, ["readlink", "/proc/self/ns/net"])).stdout.trim();
      expect(nsA).toMatch(/^net:\[\d+\]$/);
      n++;
      const b = await rt.create({ project: PROJECT, id: `c${n}-join`, service: makeService("svc", { command: ["readlink", "/proc/self/ns/net"] }), image: {}, lowerdirs: [lower], network: { mode: "path", path: rt.namespacePath(a) } });
      const io = capture(b);
      try {
        await rt.start(b);
        expect(await rt.wait(b, 10_000)).toBe(0);
        expect(io.stdout().trim()).toBe(nsA);
      } finally {
        io.close();
        await rt.remove(b);
      }
    } finally {
      await rt.stop(a, { graceMs: 100 });
      await rt.remove(a);
    }
  });

  test("output FIFOs get the larger pipe buffer: 200 KiB written with no reader attached does not block", async () => {
    const h = await create({ command: ["sh", "-c", "head -c 204800 /dev/zero; echo done > /tmp/written; sleep 30"] });
    try {
      await rt.start(h);
      const size = execFileSync("perl", ["-e", 'open(my $f, "+<", $ARGV[0]) or die; print fcntl($f, 1032, 0)', h.stdoutFifo], { encoding: "utf8" });
      expect(Number(size)).toBeGreaterThanOrEqual(262144);
      let written = "";
      for (let i = 0; i < 100 && written === ""; i++) {
        written = (await rt.exec(h, ["cat", "/tmp/written"])).stdout;
        if (written === "") await new Promise((r) => setTimeout(r, 50));
      }
      expect(written).toBe("done\n");
    } finally {
      await rt.stop(h, { graceMs: 100 });
      await rt.remove(h);
    }
  });

  test("interactive exec returns the command's exit code", async () => {
    const h = await create({ command: ["sleep", "30"] });
    try {
      await rt.start(h);
      expect(await rt.execInteractive(h, ["sh", "-c", "exit 4"])).toBe(4);
    } finally {
      await rt.stop(h, { graceMs: 100 });
      await rt.remove(h);
    }
  });

  test("a container survives the kill -9 of the process that started it, and its exit code is kept", async () => {
    const starterDir = join(base, "starter");
    mkdirSync(starterDir);
    symlinkSync(join(process.cwd(), "node_modules"), join(starterDir, "node_modules"));
    // Compile the runtime for a plain `node` starter process.
    execFileSync(join(process.cwd(), "node_modules/.bin/tsc"), [
      "src/runtime/index.ts", "--outDir", starterDir, "--rootDir", ".", "--module", "NodeNext", "--moduleResolution", "NodeNext",
      "--target", "ES2022", "--skipLibCheck", "--types", "node",
    ], { cwd: process.cwd() });
    writeFileSync(join(starterDir, "package.json"), '{"type":"module"}');
    const handleFile = join(starterDir, "handle.json");
    writeFileSync(join(starterDir, "start.mjs"), `
      import { writeFileSync } from "node:fs";
      import { openRuntime } from "./src/runtime/index.js";
      const [stateDir, runDir, lower, out] = process.argv.slice(2);
      const rt = openRuntime({ stateDir, runDir });
      const service = ${JSON.stringify(makeService("svc", { command: ["sh", "-c", "trap 'exit 5' TERM; while true; do sleep 0.1; done"] }))};
      const h = await rt.create({ project: "${PROJECT}", id: "orphan", service, image: {}, lowerdirs: [lower], network: { mode: "none" } });
      await rt.start(h);
      writeFileSync(out, JSON.stringify(h));
      setInterval(() => {}, 100000);
    `);
    const starter = spawn(process.execPath, [join(starterDir, "start.mjs"), join(base, "state"), join(base, "run"), lower, handleFile], { stdio: "ignore" });
    for (let i = 0; i < 600 && !existsSync(handleFile); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(handleFile)).toBe(true);
    starter.kill("SIGKILL");
    await new Promise((r) => starter.once("exit", r));
    await new Promise((r) => setTimeout(r, 300));
    const h = rt.load(PROJECT, "orphan");
    expect((await rt.status(h)).status).toBe("running");
    await rt.stop(h, { graceMs: 5000 });
    expect(await rt.status(h)).toMatchObject({ status: "exited", exitCode: 5 });
    await rt.remove(h);
  });

  test("cleanupLeftovers removes a running container that no record keeps", async () => {
    const h = await create({ command: ["sleep", "30"] });
    await rt.start(h);
    expect(await rt.cleanupLeftovers(PROJECT)).toEqual([h.id]);
    expect(existsSync(h.dir)).toBe(false);
  });
});

import { readSync } from "node:fs";
function require_readSync(fd: number, buf: Buffer): number {
  try {
    return readSync(fd, buf, 0, buf.length, null);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EAGAIN") return 0;
    throw e;
  }
}
