import { describe, expect, test } from "vitest";
import { ContainerCgroup, listProjectCgroups, removeCgroupTree } from "../../../src/runtime/cgroup.js";
import { FakeCgroupFs } from "./fakes.js";

const ROOT = "/cg";
const V1 = ["blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"];

function v1fs(): FakeCgroupFs {
  return new FakeCgroupFs({ "/cg/cpuset/cpuset.cpus": "0-1\n", "/cg/cpuset/cpuset.mems": "0\n" }, [ROOT, ...V1.map((c) => `${ROOT}/${c}`), `${ROOT}/systemd`]);
}

/** v1 with the kernel's habit: a new cpuset dir has empty cpus and mems. */
function freshV1fs(): FakeCgroupFs {
  const fs = v1fs();
  const mkdir = fs.mkdir.bind(fs);
  fs.mkdir = (p) => {
    mkdir(p);
    if (p.startsWith("/cg/cpuset/")) {
      fs.files.set(`${p}/cpuset.cpus`, "\n");
      fs.files.set(`${p}/cpuset.mems`, "\n");
    }
  };
  return fs;
}

function deps(fs: FakeCgroupFs, signals: Array<[number, string]> = []) {
  return { fs, signal: (pid: number, sig: NodeJS.Signals) => void signals.push([pid, sig]), sleep: async () => undefined };
}

describe("ContainerCgroup v1", () => {
  test("create makes the tree in every controller, seeds cpuset, writes the limits", () => {
    const fs = freshV1fs();
    const cg = new ContainerCgroup(deps(fs), ROOT, "shop", "web-1", 1);
    cg.create({ memory: 8 << 20, memorySwap: 8 << 20, pids: 5 });
    for (const c of V1) expect(fs.dirs.has(`/cg/${c}/stack/shop/web-1`)).toBe(true);
    expect(fs.writes).toEqual([
      ["/cg/cpuset/stack/cpuset.cpus", "0-1"],
      ["/cg/cpuset/stack/cpuset.mems", "0"],
      ["/cg/cpuset/stack/shop/cpuset.cpus", "0-1"],
      ["/cg/cpuset/stack/shop/cpuset.mems", "0"],
      ["/cg/cpuset/stack/shop/web-1/cpuset.cpus", "0-1"],
      ["/cg/cpuset/stack/shop/web-1/cpuset.mems", "0"],
      ["/cg/memory/stack/shop/web-1/memory.limit_in_bytes", "8388608"],
      ["/cg/memory/stack/shop/web-1/memory.memsw.limit_in_bytes", "8388608"],
      ["/cg/pids/stack/shop/web-1/pids.max", "5"],
    ]);
    expect(cg.relative).toBe("stack/shop/web-1");
  });

  test("a failed write is a SystemError naming the cgroup", () => {
    const fs = freshV1fs();
    fs.write = () => {
      throw new Error("EINVAL");
    };
    expect(() => new ContainerCgroup(deps(fs), ROOT, "shop", "web-1", 1).create({ pids: 5 })).toThrow(/cannot set up cgroup stack\/shop\/web-1 under \/cg: EINVAL/);
  });

  test("stats, OOM kills, pids from cgroupfs", () => {
    const d = "stack/shop/web-1";
    const fs = new FakeCgroupFs({
      [`/cg/cpuacct/${d}/cpuacct.usage`]: "123456789\n",
      [`/cg/memory/${d}/memory.usage_in_bytes`]: "1048576\n",
      [`/cg/memory/${d}/memory.limit_in_bytes`]: "9223372036854771712\n",
      [`/cg/memory/${d}/memory.oom_control`]: "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
      [`/cg/pids/${d}/pids.current`]: "3\n",
      [`/cg/pids/${d}/cgroup.procs`]: "12\n10\n",
      [`/cg/blkio/${d}/blkio.throttle.io_service_bytes_recursive`]: "8:0 Read 4096\n8:0 Write 8192\n8:16 Read 1\nTotal 12289\n",
    });
    const cg = new ContainerCgroup(deps(fs), ROOT, "shop", "web-1", 1);
    expect(cg.stats()).toEqual({ cpuUsageNs: 123456789, memoryUsage: 1048576, pids: 3, blkioReadBytes: 4097, blkioWriteBytes: 8192 });
    expect(cg.oomKills()).toBe(2);
    expect(cg.pids()).toEqual([10, 12]);
  });

  test("killAll signals every pid until the group is empty", async () => {
    const fs = new FakeCgroupFs({ "/cg/pids/stack/p/c/cgroup.procs": "7\n8\n" });
    const signals: Array<[number, string]> = [];
    const d = deps(fs, signals);
    d.signal = (pid, sig) => {
      signals.push([pid, sig]);
      fs.files.set("/cg/pids/stack/p/c/cgroup.procs", "");
    };
    await new ContainerCgroup(d, ROOT, "p", "c", 1).killAll();
    expect(signals).toEqual([[7, "SIGKILL"], [8, "SIGKILL"]]);
  });

  test("freeze waits for FROZEN; a group that never freezes is an error", async () => {
    const fs = new FakeCgroupFs({}, ["/cg/freezer/stack/p/c"]);
    const cg = new ContainerCgroup(deps(fs), ROOT, "p", "c", 1);
    await cg.freeze();
    expect(fs.writes).toEqual([["/cg/freezer/stack/p/c/freezer.state", "FROZEN"]]);
    await cg.thaw();
    expect(fs.writes[1]).toEqual(["/cg/freezer/stack/p/c/freezer.state", "THAWED"]);
    fs.write = (p) => void fs.files.set(p, "FREEZING");
    await expect(cg.freeze()).rejects.toThrow(/did not become frozen within 2 s/);
  });
});

describe("ContainerCgroup v2", () => {
  test("create enables controllers down the tree and writes unified files", () => {
    const fs = new FakeCgroupFs({ "/cg/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma\n" }, [ROOT]);
    const mkdir = fs.mkdir.bind(fs);
    fs.mkdir = (p) => {
      mkdir(p);
      fs.files.set(`${p}/cgroup.controllers`, "cpuset cpu io memory pids\n");
    };
    const cg = new ContainerCgroup(deps(fs), ROOT, "shop", "web-1");
    expect(cg.version).toBe(2);
    cg.create({ memory: 8 << 20, cpuQuota: 50000, cpuPeriod: 100000 });
    expect(fs.writes).toEqual([
      ["/cg/cgroup.subtree_control", "+cpuset +cpu +io +memory +pids"],
      ["/cg/stack/cgroup.subtree_control", "+cpuset +cpu +io +memory +pids"],
      ["/cg/stack/shop/cgroup.subtree_control", "+cpuset +cpu +io +memory +pids"],
      ["/cg/stack/shop/web-1/memory.max", "8388608"],
      ["/cg/stack/shop/web-1/cpu.max", "50000 100000"],
    ]);
  });

  test("stats and OOM kills from memory.events", () => {
    const d = "/cg/stack/p/c";
    const fs = new FakeCgroupFs({
      "/cg/cgroup.controllers": "memory",
      [`${d}/cpu.stat`]: "usage_usec 2000\nuser_usec 1000\n",
      [`${d}/memory.current`]: "4096\n",
      [`${d}/memory.max`]: "max\n",
      [`${d}/memory.events`]: "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
      [`${d}/pids.current`]: "2\n",
      [`${d}/io.stat`]: "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n",
    });
    const cg = new ContainerCgroup(deps(fs), ROOT, "p", "c");
    expect(cg.stats()).toEqual({ cpuUsageNs: 2000000, memoryUsage: 4096, pids: 2, blkioReadBytes: 100, blkioWriteBytes: 200 });
    expect(cg.oomKills()).toBe(1);
  });
});

describe("removal", () => {
  test("removes the container in every hierarchy (runc's extra ones too), then empty parents but never stack/", () => {
    const fs = v1fs();
    for (const h of [...V1, "systemd"]) {
      fs.mkdir(`/cg/${h}/stack/shop/web-1`);
      fs.mkdir(`/cg/${h}/stack/other/x`);
    }
    fs.mkdir("/cg/memory/stack/shop/web-2");
    removeCgroupTree(fs, ROOT, 1, "stack/shop/web-1");
    expect([...fs.dirs].filter((d) => d.includes("web-1"))).toEqual([]);
    expect(fs.dirs.has("/cg/memory/stack/shop/web-2")).toBe(true);
    expect(fs.dirs.has("/cg/cpu/stack/shop")).toBe(false);
    expect(fs.dirs.has("/cg/cpu/stack/other/x")).toBe(true);
    expect(fs.dirs.has("/cg/cpu/stack")).toBe(true);
    expect(listProjectCgroups(fs, ROOT, 1, "shop")).toEqual(["web-2"]);
  });
});
