// Egress through stack's NAT to an "outside" host that the test makes (a
// namespace on TEST-NET-2 behind a veth: traffic never leaves this machine),
// on a clean host and under an iptables FORWARD policy of DROP; internal
// networks get no way out; networks of the same and of different projects
// cannot reach each other.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { netnsName } from "../../../src/network/names.js";
import { execa } from "execa";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipUnlessRoot } from "../../helpers/root.js";
import { snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { NetworkManager } from "../../../src/network/network-manager.js";
import { LinuxNetworkHost } from "../../../src/network/host-system.js";
import { assertNoNetworkLeaks, bridgeNetwork, runIn, startIn, waitFor } from "./netns-tools.js";

const sn = () => ({ aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} });
const plain = { extraHosts: [], dns: [], dnsSearch: [], dnsOpt: [], links: [] };
const outsideNs = "stack-test-outside";
const outsideAddress = "198.51.100.1";

describe.skipIf(skipUnlessRoot("network egress tests"))("egress, internal networks and isolation", () => {
  let dir: string;
  let before: HostSnapshot;
  let manager: NetworkManager;
  let ipForwardBefore: string;
  const stops: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "stack-net-"));
    ipForwardBefore = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
    before = snapshotHost([dir]);
    manager = new NetworkManager({ host: new LinuxNetworkHost(), stateDir: join(dir, "state") });
  });

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    for (const p of ["p1", "p2"]) await manager.removeNetworks(p, { all: true });
    rmSync(dir, { recursive: true, force: true });
    assertNoNetworkLeaks(before, [dir]);
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe(ipForwardBefore);
  });

  /**
   * The fake outside host: its own namespace running httpd, reached through a
   * veth with a /24 of TEST-NET-2. Its host end is not named stk…: stack
   * treats every stk* interface as its own (isolation rules).
   */
  async function makeOutside(): Promise<void> {
    await execa("ip", ["-batch", "-"], {
      input: [
        `netns add ${outsideNs}`,
        `link add vstacktestout type veth peer name eth0 netns ${outsideNs}`,
        "addr add 198.51.100.254/24 dev vstacktestout",
        "link set vstacktestout up",
      ].join("\n"),
    });
    await execa("ip", ["-n", outsideNs, "-batch", "-"], { input: [`addr add ${outsideAddress}/24 dev eth0`, "link set eth0 up", "link set lo up", "route add default via 198.51.100.254"].join("\n") });
    stops.push(async () => {
      await execa("ip", ["netns", "del", outsideNs], { reject: false });
      await execa("ip", ["link", "del", "vstacktestout"], { reject: false });
    });
    serve(outsideNs, "outside");
  }

  function serve(ns: string, text: string): void {
    const www = join(dir, "www", ns);
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, "index.html"), text);
    stops.push(startIn(ns, ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", www]).stop);
  }

  async function fetch(ns: string, address: string): Promise<string> {
    const r = await runIn(ns, ["/bin/busybox", "wget", "-qO-", `http://${address}/`], { timeout: 3000 } /* busybox wget -T segfaults here */);
    return r.exitCode === 0 ? r.stdout : `failed: ${r.stderr.trim()}`;
  }

  async function attach(project: string, container: string, networks: string[]) {
    const r = await manager.attachContainer(project, { container, service: container, networks: Object.fromEntries(networks.map((n) => [n, sn()])), ...plain });
    return { ns: netnsName(project, container), address: r.addresses[0]!.address, r };
  }

  it("reaches an outside host through NAT; an internal network has no way out", async () => {
    await makeOutside();
    await manager.ensureNetworks("p1", [bridgeNetwork("default", "p1"), bridgeNetwork("private", "p1", { internal: true })]);
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe("1");
    const open = await attach("p1", "open", ["default"]);
    const closed = await attach("p1", "closed", ["private"]);
    await waitFor(async () => (await fetch(open.ns, outsideAddress)) === "outside");
    expect(await fetch(closed.ns, outsideAddress)).toMatch(/^failed/);
    // Even with a route added by hand inside the container, the firewall keeps it in.
    const gw = manager.readState("p1").networks["p1_private"]!.gateway;
    await execa("ip", ["-n", closed.ns, "route", "add", "default", "via", gw]);
    expect(await fetch(closed.ns, outsideAddress)).toMatch(/^failed/);
  });

  it("reaches an outside host under an iptables FORWARD policy of DROP, and removes its accept rules after", async () => {
    const filterBefore = (await execa("nft", ["list", "table", "ip", "filter"], { reject: false })).exitCode === 0;
    const policy = /-P FORWARD (\w+)/.exec(String((await execa("iptables", ["-S", "FORWARD"])).stdout))?.[1] ?? "ACCEPT";
    await execa("iptables", ["-P", "FORWARD", "DROP"]);
    stops.push(async () => {
      await execa("iptables", ["-P", "FORWARD", policy]);
      if (!filterBefore) await execa("nft", ["delete", "table", "ip", "filter"], { reject: false });
    });
    await makeOutside();
    await manager.ensureNetworks("p1", [bridgeNetwork("default", "p1")]);
    const c = await attach("p1", "c", ["default"]);
    // In DOCKER-USER where Docker is (or was) installed, else in FORWARD: list the whole filter table.
    const bridge = manager.readState("p1").networks["p1_default"]!.bridge;
    const accepts = async () => String((await execa("iptables", ["-S"])).stdout).split("\n").filter((l) => l.includes(` ${bridge} `) && l.includes("--comment stack -j ACCEPT"));
    expect(await accepts()).toHaveLength(2);
    await waitFor(async () => (await fetch(c.ns, outsideAddress)) === "outside");
    await manager.removeNetworks("p1", { all: true });
    expect(await accepts()).toEqual([]);
  });

  it("keeps networks of the same project and of other projects apart", async () => {
    await manager.ensureNetworks("p1", [bridgeNetwork("front", "p1"), bridgeNetwork("back", "p1")]);
    await manager.ensureNetworks("p2", [bridgeNetwork("default", "p2")]);
    const x = await attach("p1", "x", ["front"]);
    const peer = await attach("p1", "peer", ["front"]);
    const y = await attach("p1", "y", ["back"]);
    const z = await attach("p2", "z", ["default"]);
    for (const c of [x, y, z]) serve(c.ns, c.ns);
    // Positive control: the same network works.
    await waitFor(async () => (await fetch(peer.ns, x.address)) === x.ns);
    expect(await fetch(x.ns, y.address)).toMatch(/^failed/);
    expect(await fetch(y.ns, x.address)).toMatch(/^failed/);
    expect(await fetch(z.ns, x.address)).toMatch(/^failed/);
    expect(await fetch(x.ns, z.address)).toMatch(/^failed/);
    // Distinct subnets for each network.
    const subnets = [...Object.values(manager.readState("p1").networks), ...Object.values(manager.readState("p2").networks)].map((n) => n.subnet);
    expect(new Set(subnets).size).toBe(3);
  });
});
