// The cgroup manager on a real cgroup v2 tree. This host is hybrid: the
// unified hierarchy at /sys/fs/cgroup/unified has no resource controllers,
// but v2's own core (cgroup.procs, cgroup.freeze, cgroup.kill semantics by
// SIGKILL, rmdir) works there, so this checks the v2 paths for real.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ContainerCgroup, realCgroupFs } from "../../../src/runtime/cgroup.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";

const ROOT = "/sys/fs/cgroup/unified";
const hasV2 = existsSync(`${ROOT}/cgroup.controllers`) || existsSync("/sys/fs/cgroup/cgroup.controllers");
const root = existsSync(`${ROOT}/cgroup.controllers`) ? ROOT : "/sys/fs/cgroup";

describe.skipIf(skipUnlessRoot("cgroup v2 tests") || (!hasV2 && (console.warn("skipping cgroup v2 tests: no cgroup2 mount on this host"), true)))("cgroup v2 on the host", () => {
  let before: HostSnapshot;
  beforeEach(() => {
    before = snapshotHost();
  });
  // Only this test's cgroups: other work on the host makes netns and links meanwhile.
  afterEach(() => expect(diffSnapshots(before, snapshotHost()).filter((l) => l.includes("rtv2test"))).toEqual([]));

  test("create, join, freeze/thaw, kill the whole group, remove", async () => {
    const cg = new ContainerCgroup(
      { fs: realCgroupFs, signal: (pid, sig) => process.kill(pid, sig), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
      root,
      "rtv2test",
      `c${process.pid}`,
      2,
    );
    cg.create({});
    const children = [spawn("sleep", ["30"]), spawn("sleep", ["30"])];
    const exits = children.map((c) => new Promise<NodeJS.Signals | null>((r) => c.once("exit", (_code, signal) => r(signal))));
    try {
      for (const c of children) writeFileSync(`${root}/${cg.relative}/cgroup.procs`, String(c.pid));
      expect(cg.pids()).toEqual(children.map((c) => c.pid!).sort((a, b) => a - b));
      await cg.freeze();
      expect(readFileSync(`${root}/${cg.relative}/cgroup.events`, "utf8")).toMatch(/^frozen 1$/m);
      await cg.thaw();
      expect(cg.frozen()).toBe(false);
      await cg.freeze();
      await cg.killAll(); // thaws first, so the kill lands
      expect(cg.pids()).toEqual([]);
      expect(await Promise.all(exits)).toEqual(["SIGKILL", "SIGKILL"]);
    } finally {
      for (const c of children) c.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 50));
      cg.remove();
    }
    expect(existsSync(`${root}/${cg.relative}`)).toBe(false);
  });
});
