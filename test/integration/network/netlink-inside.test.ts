// A container namespace set up with no process: the host's long-lived ip makes
// it (`netns add`) and the veth, the perl helper joins it and speaks rtnetlink
// (LinuxNetworkHost's `inside`). Real namespaces, links and addresses.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipUnlessRoot } from "../../helpers/root.js";
import { snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { PerlHelper, PerlHelperError } from "../../../src/fs/perl-helper.js";
import { LinuxNetworkHost } from "../../../src/network/host-system.js";
import { planAttach, planBridge, planBridgeRemoval, planDetach } from "../../../src/network/link-plan.js";
import { SystemError } from "../../../src/errors.js";
import { assertNoNetworkLeaks } from "./netns-tools.js";

// Names of this suite's own (not ip-session.test's "stack-iptest."/"stkiptest"): the suites run side by side.
const ns = (n: string) => `stack-nltest.${n}`;
const bridge = "stknltest0";
const scratch = { netns: ["stack-nltest."], links: ["stknltest"] };
const ipIn = async (name: string, ...args: string[]) => String((await execa("ip", ["-n", ns(name), ...args])).stdout);
/** Child processes of this test process with the given name (pgrep -P). */
const children = async (name: string) => String((await execa("pgrep", ["-P", String(process.pid), "-x", name], { reject: false })).stdout).split("\n").filter(Boolean);

describe.skipIf(skipUnlessRoot("namespace set-up over rtnetlink"))("the perl helper inside a namespace", () => {
  const helper = PerlHelper.create()!;
  let dir: string;
  let before: HostSnapshot;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "stack-netlink-"));
    before = snapshotHost([dir]);
    await execa("ip", ["netns", "add", ns("a")]);
    await execa("ip", ["link", "add", "stknltestv0", "type", "veth", "peer", "name", "eth0", "netns", ns("a")]);
  });
  afterEach(async () => {
    await execa("ip", ["netns", "del", ns("a")], { reject: false });
    await execa("ip", ["link", "del", "stknltestv0"], { reject: false });
    rmSync(dir, { recursive: true, force: true });
    assertNoNetworkLeaks(before, [dir], undefined, scratch);
  });
  afterAll(() => helper.close());

  it("brings links up, adds the address and the default route, as ip would", async () => {
    await helper.configureNamespace(`/run/netns/${ns("a")}`, [
      { kind: "up", ifname: "lo" },
      { kind: "addr", ifname: "eth0", address: "203.0.113.20", prefix: 24 },
      { kind: "up", ifname: "eth0" },
      { kind: "route", gateway: "203.0.113.1" },
    ]);
    expect(await ipIn("a", "-o", "-4", "addr", "show", "dev", "eth0")).toMatch(/inet 203\.0\.113\.20\/24 scope global eth0/);
    expect(await ipIn("a", "link", "show", "dev", "lo")).toMatch(/<LOOPBACK,UP,LOWER_UP>/);
    expect(await ipIn("a", "link", "show", "dev", "eth0")).toMatch(/<[^>]*\bUP\b/);
    // (linkdown: the host end of the pair is down in this test.)
    expect(await ipIn("a", "route", "show", "default")).toMatch(/^default via 203\.0\.113\.1 dev eth0 /);
    // The kernel's own prefix route, as after `ip addr add`.
    expect(await ipIn("a", "route", "show", "203.0.113.0/24")).toContain("203.0.113.0/24 dev eth0 proto kernel scope link src 203.0.113.20");
  });

  it("fails with the kernel's errno at the first step that fails, runs nothing after it, and goes back to the host's namespace", async () => {
    const path = `/run/netns/${ns("a")}`;
    const hostNs = readlinkSync("/proc/self/ns/net");
    const helperPid = async () => Number((await children("perl"))[0]);
    // No such interface: SIOCGIFINDEX fails (ENODEV); the route after it is not added.
    const noDev = await helper.configureNamespace(path, [{ kind: "addr", ifname: "eth9", address: "203.0.113.20", prefix: 24 }, { kind: "up", ifname: "lo" }]).catch((e: unknown) => e);
    expect(noDev).toBeInstanceOf(PerlHelperError);
    expect((noDev as PerlHelperError).errno).toBe(19);
    expect(await ipIn("a", "link", "show", "dev", "lo")).not.toMatch(/<LOOPBACK,UP/);
    // The default route needs a reachable gateway: ENETUNREACH while eth0 has no address.
    const unreachable = await helper.configureNamespace(path, [{ kind: "route", gateway: "203.0.113.1" }]).catch((e: unknown) => e);
    expect((unreachable as PerlHelperError).errno).toBe(101);
    // The same address twice: EEXIST, from the kernel's acknowledgement.
    await helper.configureNamespace(path, [{ kind: "addr", ifname: "eth0", address: "203.0.113.20", prefix: 24 }]);
    const twice = await helper.configureNamespace(path, [{ kind: "addr", ifname: "eth0", address: "203.0.113.20", prefix: 24 }]).catch((e: unknown) => e);
    expect((twice as PerlHelperError).errno).toBe(17);
    expect((twice as Error).message).toMatch(/File exists/);
    // A namespace file that does not exist: ENOENT, before anything.
    const missing = await helper.configureNamespace("/run/netns/stack-nltest.nosuch", [{ kind: "up", ifname: "lo" }]).catch((e: unknown) => e);
    expect((missing as PerlHelperError).errno).toBe(2);
    // A file that is no namespace: setns refuses it (EINVAL).
    const notNs = await helper.configureNamespace("/etc/hostname", [{ kind: "up", ifname: "lo" }]).catch((e: unknown) => e);
    expect((notNs as PerlHelperError).errno).toBe(22);
    // After every failure the helper is back in the host's namespace, and still answers.
    expect(readlinkSync(`/proc/${await helperPid()}/ns/net`)).toBe(hostNs);
    await helper.configureNamespace(path, [{ kind: "up", ifname: "lo" }]);
    expect(readlinkSync(`/proc/${await helperPid()}/ns/net`)).toBe(hostNs);
  });
});

describe.skipIf(skipUnlessRoot("network host with rtnetlink inside"))("LinuxNetworkHost with `inside`", () => {
  let dir: string;
  let before: HostSnapshot;
  const helper = PerlHelper.create()!;
  const hosts: LinuxNetworkHost[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-netlink-host-"));
    before = snapshotHost([dir]);
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) {
      await h.runIp([...planDetach(ns("b"), ["stknltestv1"]), ...planDetach(ns("c"), ["stknltestv2"]), ...planBridgeRemoval(bridge)], { tolerant: true });
      await h.close();
    }
    rmSync(dir, { recursive: true, force: true });
    assertNoNetworkLeaks(before, [dir], undefined, scratch);
  });
  afterAll(() => helper.close());
  const newHost = () => {
    const h = new LinuxNetworkHost(undefined, { inside: helper });
    hosts.push(h);
    return h;
  };

  it("attaches with no ip process but the host's one, and makes no spare namespace", async () => {
    const host = newHost();
    await host.runIp(planBridge({ bridge, gateway: "203.0.113.1", prefix: 24 }));
    host.prepareNamespaces();
    await host.whenPrepared();
    expect(await children("ip")).toHaveLength(1); // the host's long-lived ip, no spare
    expect(await children("unshare")).toEqual([]);
    await host.runIp(planAttach({ netns: ns("b"), createNetns: true, endpoints: [{ bridge, hostVeth: "stknltestv1", ifname: "eth0", address: "203.0.113.10", prefix: 24, macAddress: "02:42:c6:33:64:0a" }], defaultGateway: "203.0.113.1" }));
    expect(await children("ip")).toHaveLength(1);
    expect(await ipIn("b", "-o", "-4", "addr", "show", "dev", "eth0")).toContain("inet 203.0.113.10/24");
    expect(await ipIn("b", "route", "show", "default")).toContain("default via 203.0.113.1 dev eth0");
    expect(await ipIn("b", "link", "show", "dev", "eth0")).toContain("link/ether 02:42:c6:33:64:0a");
    expect(String((await execa("ip", ["link", "show", "dev", "stknltestv1"])).stdout)).toContain(`master ${bridge}`);
    expect(String((await execa("ip", ["link", "show", "dev", "stknltestv1"])).stdout)).toMatch(/<[^>]*\bUP\b/);
  });

  it("sends a group with a line it cannot say (IPv6) to ip -n, whole; IPv6 lines are valid batch lines", async () => {
    const host = newHost();
    await host.runIp(planBridge({ bridge, gateway: "203.0.113.1", prefix: 24, ipv6Gateway: "fd00:5::1", ipv6Prefix: 64 }));
    await host.runIp(
      planAttach({ netns: ns("c"), createNetns: true, endpoints: [{ bridge, hostVeth: "stknltestv2", ifname: "eth0", address: "203.0.113.11", prefix: 24, ipv6Address: "fd00:5::11", ipv6Prefix: 64 }], defaultGateway: "203.0.113.1" }),
    );
    expect(await ipIn("c", "-o", "addr", "show", "dev", "eth0")).toMatch(/inet 203\.0\.113\.11\/24[\s\S]*inet6 fd00:5::11\/64/);
    expect(await ipIn("c", "route", "show", "default")).toContain("default via 203.0.113.1 dev eth0");
  });

  it("names the namespace, the steps and the kernel's words when a step fails", async () => {
    const host = newHost();
    await host.runIp(planBridge({ bridge, gateway: "203.0.113.1", prefix: 24 }));
    await host.runIp([{ args: ["netns", "add", ns("b")] }]);
    const attempt = host.runIp([{ netns: ns("b"), args: ["addr", "add", "203.0.113.12/24", "dev", "eth0"] }]);
    await expect(attempt).rejects.toThrow(SystemError);
    await expect(attempt).rejects.toThrow(/^setting up network namespace stack-nltest\.b \(addr add 203\.0\.113\.12\/24 dev eth0\) failed: No such device$/);
    // tolerant: the failure is ignored.
    await host.runIp([{ netns: ns("b"), args: ["addr", "add", "203.0.113.12/24", "dev", "eth0"] }], { tolerant: true });
  });
});

describe.skipIf(skipUnlessRoot("network host commands through the perl helper"))("LinuxNetworkHost with `commands`", () => {
  const helper = PerlHelper.create()!;
  afterAll(() => helper.close());

  it("reads routes, stack's table and the host filter as the commands spawned from Node do", async () => {
    const viaPerl = new LinuxNetworkHost(undefined, { commands: helper });
    const spawned = new LinuxNetworkHost();
    const [routes, table, filter] = await Promise.all([viaPerl.readRoutes(), viaPerl.readStackTable(), viaPerl.readForwardFilter()]);
    // Compared with Node's own spawns of the same commands (other suites change the host meanwhile: compare what stays).
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.find((r) => r.dst === "default")).toEqual((await spawned.readRoutes()).find((r) => r.dst === "default"));
    expect(table === undefined).toBe((await spawned.readStackTable()) === undefined);
    expect(filter.forwardPolicy).toBe((await spawned.readForwardFilter()).forwardPolicy);
    await Promise.all([viaPerl.close(), spawned.close()]);
  });

  it("a failing nft names nft's words, as the spawned one does", async () => {
    const viaPerl = new LinuxNetworkHost(undefined, { commands: helper });
    await expect(viaPerl.runNft("add rule ip stack-nosuch-table nosuch accept\n")).rejects.toThrow(/^nft failed: .*No such file or directory/s);
    await expect(viaPerl.runIptables(["-S", "STACK-NOSUCH-CHAIN"])).rejects.toThrow(/^iptables -S STACK-NOSUCH-CHAIN failed: iptables .*STACK-NOSUCH-CHAIN/);
    await viaPerl.close();
  });
});
