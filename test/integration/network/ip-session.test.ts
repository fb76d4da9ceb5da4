// The executor under the network manager, for real: a long-lived
// `ip -force -batch -` (IpSession), spare namespaces made ahead of need
// (NetnsSpares), and LinuxNetworkHost.runIp choosing between them.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { execa } from "execa";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipUnlessRoot } from "../../helpers/root.js";
import { snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { IpSession } from "../../../src/network/ip-session.js";
import { NetnsSpares } from "../../../src/network/netns-spares.js";
import { LinuxNetworkHost } from "../../../src/network/host-system.js";
import { planAttach, planBridge, planBridgeRemoval, planDetach } from "../../../src/network/link-plan.js";
import { InternalError, SystemError } from "../../../src/errors.js";
import { assertNoNetworkLeaks } from "./netns-tools.js";

const activeProcesses = () => process.getActiveResourcesInfo().filter((r) => r === "ProcessWrap").length;
/** Running (a zombie not yet reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

describe.skipIf(skipUnlessRoot("ip session tests"))("IpSession: one ip process, many requests", () => {
  const sessions: IpSession[] = [];
  const session = (argv = ["ip", "-force", "-batch", "-"]) => {
    const s = new IpSession(argv);
    sessions.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of sessions.splice(0)) {
      s.close();
      await s.whenExited();
    }
  });

  it("answers each request with the commands that failed, in order, and runs the rest", async () => {
    const s = session();
    expect(await s.run(["link show dev lo"])).toEqual([]);
    // Two requests in flight at once: each gets its own failures.
    const [a, b] = await Promise.all([
      s.run(["link show dev stknosuch0", "link show dev lo", "link show dev stknosuch1"]),
      s.run(["link show dev lo", "link show dev stknosuch2"]),
    ]);
    expect(a).toEqual([
      { command: "link show dev stknosuch0", message: 'Device "stknosuch0" does not exist.' },
      { command: "link show dev stknosuch1", message: 'Device "stknosuch1" does not exist.' },
    ]);
    expect(b).toEqual([{ command: "link show dev stknosuch2", message: 'Device "stknosuch2" does not exist.' }]);
    expect(await s.run([])).toEqual([]);
    expect(s.alive).toBe(true);
  });

  it("rejects every pending request when ip exits on a bad argument, and later ones too", async () => {
    const s = session();
    const dying = s.run(["addr add 192.0.2.1/99 dev lo"]);
    const queued = s.run(["link show dev lo"]);
    await Promise.all([
      expect(dying).rejects.toThrow(/^ip -force -batch - exited with code 1: Error: any valid prefix is expected rather than "192\.0\.2\.1\/99"/),
      expect(queued).rejects.toThrow(SystemError),
    ]);
    expect(s.alive).toBe(false);
    await expect(s.run(["link show dev lo"])).rejects.toThrow(/ip -force -batch - exited/);
  });

  it("refuses a line ip would split or cut (a blank, a quote, #)", async () => {
    const s = session();
    for (const line of ["link show dev lo #x", "link  show", 'link show dev "lo"', ""]) {
      expect(() => s.run([line])).toThrow(InternalError);
    }
    expect(() => s.run(["link show dev lo\nlink del lo"])).toThrow(/blank/);
  });

  it("reports a program that cannot start", async () => {
    const s = session(["/nonexistent/ip", "-force", "-batch", "-"]);
    await expect(s.run(["link show dev lo"])).rejects.toThrow(/\/nonexistent\/ip -force -batch - .*ENOENT/);
  });

  it("keeps the event loop alive only while a request is pending", async () => {
    // The handles of the previous tests' processes close a loop turn after their exit.
    for (let i = 0; i < 100 && activeProcesses() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    const base = activeProcesses();
    const s = session();
    expect(activeProcesses()).toBe(base);
    const pending = s.run(["link show dev lo"]);
    expect(activeProcesses()).toBe(base + 1);
    await pending;
    expect(activeProcesses()).toBe(base);
    const pid = s.pid!;
    s.close();
    await s.whenExited();
    expect(alive(pid)).toBe(false);
  });
});

describe.skipIf(skipUnlessRoot("spare namespace tests"))("NetnsSpares", () => {
  it("hands out an ip running in a fresh namespace, and its namespace goes with it", async () => {
    const spares = new NetnsSpares({ size: 1 });
    spares.fill();
    await spares.whenFilled();
    const spare = (await spares.take())!;
    expect(spare).toBeDefined();
    const ns = readlinkSync(`/proc/${spare.pid}/ns/net`);
    expect(ns).not.toBe(readlinkSync("/proc/self/ns/net"));
    // Only lo exists in it.
    expect(await spare.run(["link show dev lo"])).toEqual([]);
    expect(await spare.run(["link show dev eth0"])).toEqual([{ command: "link show dev eth0", message: 'Device "eth0" does not exist.' }]);
    const pid = spare.pid!;
    spare.close();
    await spare.whenExited();
    expect(alive(pid)).toBe(false);
    await spares.close();
  });

  it("never hands out an ip in the caller's own namespace, and stops trying after a failure", async () => {
    const notUnshared = new NetnsSpares({ size: 1, argv: ["ip", "-force", "-batch", "-"] });
    notUnshared.fill();
    await notUnshared.whenFilled();
    expect(await notUnshared.take()).toBeUndefined();
    // Broken: fill() starts nothing more.
    notUnshared.fill();
    await notUnshared.whenFilled();
    expect(await notUnshared.take()).toBeUndefined();
    await notUnshared.close();
    const missing = new NetnsSpares({ size: 2, argv: ["/nonexistent/unshare", "--net", "ip", "-force", "-batch", "-"] });
    missing.fill();
    expect(await missing.take()).toBeUndefined();
    await missing.close();
    const none = new NetnsSpares({ size: 0 });
    none.fill();
    expect(await none.take()).toBeUndefined();
  });

  it("hands out nothing before it was asked to fill (the caller makes the namespace faster itself)", async () => {
    const spares = new NetnsSpares({ size: 1 });
    expect(await spares.take()).toBeUndefined();
    spares.fill();
    const spare = await spares.take();
    expect(spare).toBeDefined();
    spare!.close();
    await spare!.whenExited();
    await spares.close();
  });

  it("close() ends the spares it made", async () => {
    const spares = new NetnsSpares({ size: 2 });
    spares.fill();
    await spares.whenFilled();
    const { stdout } = await execa("pgrep", ["-P", String(process.pid), "-x", "ip"], { reject: false });
    const pids = String(stdout).split("\n").filter(Boolean).map(Number);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    await spares.close();
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });
});

describe.skipIf(skipUnlessRoot("network host executor tests"))("LinuxNetworkHost.runIp", () => {
  let dir: string;
  let before: HostSnapshot;
  const hosts: LinuxNetworkHost[] = [];
  const bridge = "stkiptest0";
  const ns = (n: string) => `stack-iptest.${n}`;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-ipsession-"));
    before = snapshotHost([dir]);
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) {
      await h.runIp([...planDetach(ns("a"), ["stkiptestv0"]), ...planDetach(ns("b"), ["stkiptestv1"]), ...planBridgeRemoval(bridge)], { tolerant: true });
      await h.close();
    }
    rmSync(dir, { recursive: true, force: true });
    assertNoNetworkLeaks(before, [dir]);
  });
  const newHost = (spareNamespaces?: number) => {
    const h = new LinuxNetworkHost(undefined, { spareNamespaces });
    hosts.push(h);
    return h;
  };
  const attachPlan = (name: string, veth: string, address: string) =>
    planAttach({ netns: ns(name), createNetns: true, endpoints: [{ bridge, hostVeth: veth, ifname: "eth0", address, prefix: 24, macAddress: "02:42:c6:33:64:0a" }], defaultGateway: "198.51.100.1" });
  const inside = async (name: string) => ({
    addr: String((await execa("ip", ["-n", ns(name), "-o", "-4", "addr", "show", "dev", "eth0"])).stdout),
    route: String((await execa("ip", ["-n", ns(name), "route", "show", "default"])).stdout),
    lo: String((await execa("ip", ["-n", ns(name), "link", "show", "dev", "lo"])).stdout),
    master: String((await execa("ip", ["link", "show", "dev", name === "a" ? "stkiptestv0" : "stkiptestv1"])).stdout),
  });

  it("attaches through a spare namespace: it becomes the named one, configured inside", async () => {
    const host = newHost();
    await host.runIp(planBridge({ bridge, gateway: "198.51.100.1", prefix: 24 }));
    host.prepareNamespaces();
    await host.whenPrepared();
    const spareNs = (await execa("pgrep", ["-P", String(process.pid), "-x", "ip"])).stdout
      .split("\n")
      .map((p) => readlinkSync(`/proc/${p}/ns/net`))
      .filter((l) => l !== readlinkSync("/proc/self/ns/net"));
    expect(spareNs).toHaveLength(1);
    await host.runIp(attachPlan("a", "stkiptestv0", "198.51.100.10"));
    // The named namespace is the spare's (same inode).
    expect(`net:[${statSync(host.netnsPath(ns("a"))).ino}]`).toBe(spareNs[0]);
    const a = await inside("a");
    expect(a.addr).toContain("inet 198.51.100.10/24");
    expect(a.route).toContain("default via 198.51.100.1 dev eth0");
    expect(a.lo).toContain("UP");
    expect(a.master).toContain(`master ${bridge}`);
    expect(a.master).toMatch(/<[^>]*\bUP\b/);
  });

  it("without spares, makes the namespace with netns add and configures it with ip -n", async () => {
    const host = newHost(0);
    await host.runIp(planBridge({ bridge, gateway: "198.51.100.1", prefix: 24 }));
    await host.runIp(attachPlan("b", "stkiptestv1", "198.51.100.11"));
    const b = await inside("b");
    expect(b.addr).toContain("inet 198.51.100.11/24");
    expect(b.route).toContain("default via 198.51.100.1 dev eth0");
  });

  it("names the failed command and ip's words, and stops before the next namespace's commands", async () => {
    const host = newHost();
    host.prepareNamespaces();
    await host.whenPrepared();
    // No bridge: the veth cannot be put on it.
    const attempt = host.runIp(attachPlan("a", "stkiptestv0", "198.51.100.10"));
    await expect(attempt).rejects.toThrow(SystemError);
    // iproute2 exits on an unknown master: the long-lived ip is gone, the next command gets a new one.
    await expect(attempt).rejects.toThrow(/^ip \(netns attach stack-iptest\.a \d+; link add stkiptestv0 master stkiptest0 up type veth .*\) failed: .*exited with code 255: Error: argument "stkiptest0" is wrong: Device does not exist$/);
    // The namespace was named (the caller's record lets cleanup remove it), but nothing ran in it.
    expect(String((await execa("ip", ["-n", ns("a"), "-o", "link"])).stdout)).not.toContain("eth0");
    await expect(host.runIp([{ netns: ns("nosuch"), args: ["link", "set", "lo", "up"] }])).rejects.toThrow(/ip -n stack-iptest\.nosuch /);
    await expect(host.runIp([{ args: ["link", "del", "stkiptestnone"] }])).rejects.toThrow(/"link del stkiptestnone": Cannot find device "stkiptestnone"/);
  });

  it("with tolerant, ignores failures (and a dead ip) and runs everything", async () => {
    const host = newHost(0);
    await host.runIp(planBridge({ bridge, gateway: "198.51.100.1", prefix: 24 }));
    await host.runIp([{ args: ["link", "del", "stkiptestnone"] }, { args: ["addr", "add", "192.0.2.1/99", "dev", "lo"] }], { tolerant: true });
    await host.runIp([{ args: ["link", "del", bridge] }], { tolerant: true });
    expect(existsSync(`/sys/class/net/${bridge}`)).toBe(false);
  });

  it("close() ends its ip processes; the host is usable again after", async () => {
    const host = newHost();
    await host.runIp(planBridge({ bridge, gateway: "198.51.100.1", prefix: 24 }));
    host.prepareNamespaces();
    await host.whenPrepared();
    const pids = String((await execa("pgrep", ["-P", String(process.pid), "-x", "ip"])).stdout).split("\n").map(Number);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    await host.close();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    await host.runIp(planBridgeRemoval(bridge));
    expect(existsSync(`/sys/class/net/${bridge}`)).toBe(false);
  });

  it("ends its ip processes by itself after the idle time", async () => {
    const host = new LinuxNetworkHost(undefined, { idleMs: 2000 });
    hosts.push(host);
    await host.runIp([{ args: ["link", "show", "dev", "lo"] }]);
    host.prepareNamespaces();
    await host.whenPrepared();
    const pids = String((await execa("pgrep", ["-P", String(process.pid), "-x", "ip"])).stdout).split("\n").map(Number);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(pids.filter(alive)).toEqual([]);
  });
});
