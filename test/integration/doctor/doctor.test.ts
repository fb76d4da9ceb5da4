// `stack doctor` for real, as root, through the built CLI: the host passes,
// the JSON shape, and planted crash leftovers — owned by the test's own
// state dir, under names unique to this run — are reported and removed by
// --fix, while a busy project's and another state dir's are left alone.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { detectCgroupMode, openRuntime } from "../../../src/runtime/index.js";
import { LinuxNetworkHost, NetworkManager } from "../../../src/network/index.js";
import { makeService } from "../../helpers/model.js";
import { makeBusyboxRootfs } from "../runtime/busybox-rootfs.js";
import { runStack, stackBin } from "../../helpers/cli.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";

const CGROUP_ROOT = "/sys/fs/cgroup";

interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  fix: string;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "ignore" });
}

function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // already gone
  }
}

/** The hierarchies a container cgroup lives in (v2: the unified root; v1/hybrid: pids is enough for a planted one). */
function cgroupDirs(relative: string): string[] {
  return detectCgroupMode(CGROUP_ROOT) === "v2" ? [join(CGROUP_ROOT, relative)] : [join(CGROUP_ROOT, "pids", relative), join(CGROUP_ROOT, "memory", relative)];
}

function removeCgroup(project: string): void {
  for (const dir of cgroupDirs(`stack/${project}/x`)) {
    for (const d of [dir, join(dir, "..")]) {
      try {
        rmdirSync(d);
      } catch {
        // absent
      }
    }
  }
}

function networkState(project: string, bridge: string, netns: string) {
  return {
    version: 1,
    project,
    networks: {
      [`${project}_default`]: { key: "default", name: `${project}_default`, bridge, subnet: "192.0.2.0/24", gateway: "192.0.2.1", reserved: [], internal: false, external: false, labels: {}, driverOpts: {} },
    },
    containers: { [`${project}-x`]: { container: `${project}-x`, service: "x", netns, ownsNetns: true, endpoints: [], links: [] } },
    ports: [],
  };
}

describe.skipIf(skipUnlessRoot("stack doctor integration tests"))("stack doctor (real host, built CLI)", () => {
  let base: string;
  let env: Record<string, string>;
  const tag = randomBytes(3).toString("hex");
  const ghost = `dghost${tag}`; // crashed project of the test's state dir
  const busy = `dbusy${tag}`; // a project of the test's state dir that a live command holds
  const stranger = `dother${tag}`; // a project no state dir of this test knows
  const crash = `dcrash${tag}`; // a project whose container outlived a crashed command
  const ghostLink = `stk${randomBytes(6).toString("hex")}`;
  const busyLink = `stk${randomBytes(6).toString("hex")}`;
  const mine = (line: string) => [ghost, busy, stranger, crash, ghostLink, busyLink].some((n) => line.includes(n)) || line.includes(base);
  let before: HostSnapshot;

  beforeAll(() => {
    base = mkdtempSync("/tmp/stack-doctor-it-");
    env = { STACK_STATE_DIR: join(base, "state"), STACK_RUN_DIR: join(base, "run"), PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
    mkdirSync(env.STACK_STATE_DIR!, { recursive: true });
    before = snapshotHost([base]);
  });

  afterAll(async () => {
    // Tidies after a failed test; the leak check below covers what the tests' own --fix runs left.
    await openRuntime({ stateDir: env.STACK_STATE_DIR!, runDir: env.STACK_RUN_DIR! }).cleanupLeftovers(crash).catch(() => undefined);
    for (const n of [`stack-${ghost}-x`, `stack-${busy}-x`, `stack-${stranger}-x`]) tryIp("netns", "del", n);
    for (const l of [ghostLink, busyLink]) tryIp("link", "del", l);
    for (const p of [ghost, busy, stranger]) removeCgroup(p);
    // The planted busy project's network made --fix render firewall chains for this state dir: with the
    // planted states gone, rendering again removes them (and the table, when no other state dir has any).
    rmSync(join(env.STACK_STATE_DIR!, "projects"), { recursive: true, force: true });
    await new NetworkManager({ host: new LinuxNetworkHost(), stateDir: env.STACK_STATE_DIR! }).applyFirewall();
    const left = diffSnapshots(before, snapshotHost([base])).filter((line) => mine(line) || line.startsWith("nftTables:"));
    rmSync(base, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`the test left resources behind:\n  ${left.join("\n  ")}`);
  });

  test("passes on this host, in a few seconds, one line per check", async () => {
    const t0 = Date.now();
    const r = await runStack(["doctor"], { env });
    const ms = Date.now() - t0;
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    for (const name of ["root", "kernel", "overlayfs", "cgroups", "oci-runtime", "iproute2", "nftables", "ip-forward", "disk", "dns-port", "leftovers"]) {
      expect(r.stdout).toMatch(new RegExp(`^✔ ${name} `, "m"));
    }
    expect(r.stdout).toMatch(/^✔ oci-runtime +runc ran a test container \(busybox true\)/m);
    expect(r.stdout).not.toMatch(/^✖/m);
    expect(r.stdout).toMatch(/\n\d+ ok, \d+ warnings?, 0 failed\n$/);
    expect(ms).toBeLessThan(20_000); // a few seconds alone; generous for a loaded shared host
    // The probes left nothing: no temp dir in the state dir, no probe netns or cgroup.
    expect(execFileSync("ls", ["-A", env.STACK_STATE_DIR!], { encoding: "utf8" })).toBe("");
    expect(existsSync(`/run/netns/stack-doctor-${process.pid}`)).toBe(false);
  });

  test("--format json: an array of {name, status, detail, fix}", async () => {
    const r = await runStack(["doctor", "--format", "json"], { env });
    expect(r.exitCode).toBe(0);
    const checks = JSON.parse(r.stdout) as Check[];
    expect(Array.isArray(checks)).toBe(true);
    expect(checks.map((c) => c.name)).toEqual(["root", "kernel", "overlayfs", "cgroups", "oci-runtime", "iproute2", "nftables", "ip-forward", "disk", "dns-port", "tini", "busybox", "mmdebstrap", "leftovers", "unowned"]);
    for (const c of checks) {
      expect(Object.keys(c).sort()).toEqual(["detail", "fix", "name", "status"]);
      expect(["ok", "warn", "fail"]).toContain(c.status);
      expect(typeof c.detail).toBe("string");
      expect(typeof c.fix).toBe("string");
    }
    expect(checks.filter((c) => c.status === "fail")).toEqual([]);
  });

  test("a bad --format is refused", async () => {
    const r = await runStack(["doctor", "--format", "yaml"], { env });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/--format: "yaml" is not a doctor format\nhint: use text or json/);
  });

  test("as another user: root fails with its fix, the probes say why they were not tried, exit code 1", async (ctx) => {
    // Run as nobody through runuser (util-linux); the checkout must be readable by nobody.
    const readable = spawnSync("runuser", ["-u", "nobody", "--", "test", "-r", stackBin]);
    if (readable.status !== 0) {
      console.warn(`skipping the non-root doctor test: runuser is missing or nobody cannot read ${stackBin}`);
      ctx.skip();
    }
    const dirs = { state: join(base, "nobody-state"), run: join(base, "nobody-run") };
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    chmodSync(base, 0o755);
    for (const d of Object.values(dirs)) execFileSync("chown", ["nobody", d]);
    const r = spawnSync("runuser", ["-u", "nobody", "--", "env", `STACK_STATE_DIR=${dirs.state}`, `STACK_RUN_DIR=${dirs.run}`, process.execPath, stackBin, "doctor", "--format", "json"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: 1 required check failed: root\nhint: apply the fix shown for each/);
    const checks = JSON.parse(r.stdout) as Check[];
    const by = (name: string) => checks.find((c) => c.name === name)!;
    expect(by("root")).toMatchObject({ status: "fail", fix: "run stack as root (sudo stack …)" });
    expect(by("root").detail).toMatch(/^running as uid \d+:/);
    for (const name of ["overlayfs", "oci-runtime", "iproute2", "nftables", "leftovers"]) {
      expect(by(name).status).toBe("warn");
      expect(by(name).detail).toMatch(/not (tried|checked)|needs root/);
    }
  });

  test("planted leftovers of the state dir are reported and removed by --fix; a busy project's and unowned ones stay", async () => {
    const state = env.STACK_STATE_DIR!;
    // The crashed project: its network record names the netns and the "bridge" (a bridge with no ports: this kernel has no dummy links), and it has a cgroup.
    ip("netns", "add", `stack-${ghost}-x`);
    ip("link", "add", ghostLink, "type", "bridge");
    for (const d of cgroupDirs(`stack/${ghost}/x`)) mkdirSync(d, { recursive: true });
    mkdirSync(join(state, "projects", ghost), { recursive: true });
    writeFileSync(join(state, "projects", ghost, "network.json"), JSON.stringify(networkState(ghost, ghostLink, `stack-${ghost}-x`)));
    // The same kind of leftovers for a project whose lock a live command (this test process) holds.
    ip("netns", "add", `stack-${busy}-x`);
    ip("link", "add", busyLink, "type", "bridge");
    mkdirSync(join(state, "projects", busy), { recursive: true });
    writeFileSync(join(state, "projects", busy, "network.json"), JSON.stringify(networkState(busy, busyLink, `stack-${busy}-x`)));
    mkdirSync(join(env.STACK_RUN_DIR!, busy), { recursive: true });
    writeFileSync(join(env.STACK_RUN_DIR!, busy, "lock"), `${process.pid} up\n`);
    // A namespace and cgroup of a project this state dir does not know.
    ip("netns", "add", `stack-${stranger}-x`);
    for (const d of cgroupDirs(`stack/${stranger}/x`)) mkdirSync(d, { recursive: true });

    const report = await runStack(["doctor", "--format", "json"], { env });
    expect(report.exitCode).toBe(0); // leftovers warn, they do not fail
    const checks = JSON.parse(report.stdout) as Check[];
    const leftovers = checks.find((c) => c.name === "leftovers")!;
    expect(leftovers.status).toBe("warn");
    expect(leftovers.fix).toBe("stack doctor --fix");
    expect(leftovers.detail).toContain(`project ${ghost}: netns stack-${ghost}-x`);
    expect(leftovers.detail).toContain(`project ${ghost}: bridge ${ghostLink}`);
    expect(leftovers.detail).toContain(`project ${ghost}: container x (cgroup)`);
    expect(leftovers.detail).toContain(`left alone: project ${busy}: \`up\` (pid ${process.pid}) holds its lock`);
    expect(leftovers.detail).not.toContain(`netns stack-${busy}-x`);
    const unowned = checks.find((c) => c.name === "unowned")!;
    expect(unowned.status).toBe("warn");
    expect(unowned.detail).toContain(`netns stack-${stranger}-x`);
    expect(unowned.detail).toContain(`cgroup stack/${stranger} (x)`);
    expect(unowned.detail).not.toContain(ghost);

    const fixed = await runStack(["doctor", "--fix"], { env });
    expect(fixed.exitCode).toBe(0);
    expect(fixed.stdout).toContain(`fixed: project ${ghost}: removed container x`);
    expect(fixed.stdout).toContain(`fixed: project ${ghost}: removed its network state`);
    expect(fixed.stdout).toMatch(/^✔ leftovers +nothing abandoned by .*; left alone: project dbusy/m);
    expect(fixed.stdout).not.toContain("not fixed");

    // The crashed project's resources are gone from the host and from its record …
    const netns = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
    expect(netns).not.toContain(`stack-${ghost}-x`);
    expect(existsSync(`/sys/class/net/${ghostLink}`)).toBe(false);
    for (const d of cgroupDirs(`stack/${ghost}`)) expect(existsSync(d)).toBe(false);
    const record = JSON.parse(readFileSync(join(state, "projects", ghost, "network.json"), "utf8")) as { networks: object; containers: object };
    expect(record.networks).toEqual({});
    expect(record.containers).toEqual({});
    // … the busy project's and the unknown project's are untouched, and the busy lock is still there.
    expect(netns).toContain(`stack-${busy}-x`);
    expect(existsSync(`/sys/class/net/${busyLink}`)).toBe(true);
    expect(netns).toContain(`stack-${stranger}-x`);
    for (const d of cgroupDirs(`stack/${stranger}/x`)) expect(existsSync(d)).toBe(true);
    expect(readFileSync(join(env.STACK_RUN_DIR!, busy, "lock"), "utf8")).toBe(`${process.pid} up\n`);
  });

  test("a crashed container of the state dir (overlay mount, cgroup, runc state, dir) is removed by --fix", async () => {
    const runtime = openRuntime({ stateDir: env.STACK_STATE_DIR!, runDir: env.STACK_RUN_DIR! });
    const lower = makeBusyboxRootfs(join(base, "lower"));
    const id = `${crash}-c1`;
    const h = await runtime.create({ project: crash, id, service: makeService("svc", { command: ["true"], network_mode: "none" }), image: {}, lowerdirs: [lower], network: { mode: "none" } });
    await runtime.start(h);
    expect(await runtime.wait(h, 20_000)).toBe(0);
    // The command that made it "crashed": nothing recorded it in state.json, nothing removed it.
    const mounted = () => readFileSync("/proc/self/mountinfo", "utf8").includes(h.rootfs);
    const runcIds = () => execFileSync("runc", ["--root", join(env.STACK_RUN_DIR!, "runc"), "list", "-q"], { encoding: "utf8" }).split("\n").filter(Boolean);
    expect(mounted()).toBe(true);
    expect(runcIds()).toContain(id);

    const report = await runStack(["doctor", "--format", "json"], { env });
    const leftovers = (JSON.parse(report.stdout) as Check[]).find((c) => c.name === "leftovers")!;
    expect(leftovers.detail).toContain(`project ${crash}: container ${id} (dir, cgroup, overlay mount, runtime state)`);

    const fixed = await runStack(["doctor", "--fix"], { env });
    expect(fixed.exitCode).toBe(0);
    expect(fixed.stdout).toContain(`fixed: project ${crash}: removed container ${id}`);
    expect(mounted()).toBe(false);
    expect(runcIds()).not.toContain(id);
    expect(existsSync(h.dir)).toBe(false);
    for (const d of cgroupDirs(`stack/${crash}`)) expect(existsSync(d)).toBe(false);
  });
});
