// The manager against a recording fake host: what it would run, what it
// records, and its error paths. The real host is exercised in
// test/integration/network/.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetworkManager, macAddressFor, orderServiceNetworks } from "../../../src/network/network-manager.js";
import type { NetworkHost } from "../../../src/network/host-system.js";
import type { IpCommand } from "../../../src/network/link-plan.js";
import type { HostForwardFilter } from "../../../src/network/firewall.js";
import { parseForwardFilter, parseRouteListings, renderIptablesRestore } from "../../../src/network/host-system.js";
import type { NetworkModel, ServiceNetworkModel } from "../../../src/schema/model.js";
import { buildDnsZones } from "../../../src/network/dns-records.js";

class RecordingHost implements NetworkHost {
  ip: string[] = [];
  nft: string[] = [];
  iptables: string[][] = [];
  sysctl: Record<string, string> = { "net.ipv4.ip_forward": "0" };
  netns: string[] = [];
  routes = [{ dst: "default" }, { dst: "172.30.0.0/24" }];
  busyPorts = new Set<number>();
  prepared = 0;
  prepareNamespaces() {
    this.prepared++;
  }
  async close() {}
  async runIp(commands: IpCommand[], options: { tolerant?: boolean } = {}) {
    for (const c of commands) this.ip.push(`${options.tolerant ? "~" : ""}${c.netns ? `[${c.netns}] ` : ""}${c.args.join(" ")}`);
  }
  tableExists = false;
  async runNft(script: string) {
    this.nft.push(script);
    if (script.startsWith("add table")) this.tableExists = true;
    if (script.startsWith("delete table")) this.tableExists = false;
  }
  async readStackTable() {
    return this.tableExists ? { chains: [], jumps: [] } : undefined;
  }
  async runIptables(args: string[]) {
    this.iptables.push(args);
  }
  batches: string[][][] = [];
  /** iptables-restore's all-or-none: fails when any one change would. */
  batchFails: (args: string[]) => boolean = () => false;
  async runIptablesBatch(ops: string[][]) {
    if (ops.some((o) => this.batchFails(o))) throw new Error("iptables-restore failed: line 2 failed");
    this.batches.push(ops);
  }
  async readForwardFilter(): Promise<HostForwardFilter> {
    return { forwardPolicy: "ACCEPT", dockerUserExists: false, stackRules: [] };
  }
  async readRoutes() {
    return this.routes;
  }
  readSysctl(key: string) {
    return this.sysctl[key] ?? "0";
  }
  writeSysctl(key: string, value: string) {
    this.sysctl[key] = value;
  }
  listNetns() {
    return this.netns;
  }
  links: string[] = [];
  listLinks() {
    return this.links;
  }
  netnsPath(name: string) {
    return `/run/netns/${name}`;
  }
  async isPortFree(_ip: string, port: number) {
    return !this.busyPorts.has(port);
  }
  async pickFreePort() {
    return 40000;
  }
}

const network = (key: string, project: string, over: Partial<NetworkModel> = {}): NetworkModel => ({ key, name: `${project}_${key}`, driver: "bridge", driver_opts: {}, external: false, internal: false, attachable: false, enable_ipv6: false, ipam: { config: [], options: {} }, labels: {}, ...over });
const sn = (over: Partial<ServiceNetworkModel> = {}): ServiceNetworkModel => ({ aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {}, ...over });
const plain = { extraHosts: [], dns: [], dnsSearch: [], dnsOpt: [], links: [] };

describe("NetworkManager", () => {
  let dir: string;
  let host: RecordingHost;
  let m: NetworkManager;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-netunit-"));
    host = new RecordingHost();
    m = new NetworkManager({ host, stateDir: dir, hostResolvers: { nameservers: ["192.0.2.53"], search: [] } });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a stale accept rule another project removed meanwhile (iptables: Bad rule) is not an error; a failed insert is", async () => {
    const stale = "-A DOCKER-USER -i stkgone -m comment --comment stack -j ACCEPT";
    host.readForwardFilter = async () => ({ forwardPolicy: "DROP", dockerUserExists: true, stackRules: [stale] });
    host.batchFails = (args) => args[0] === "-D";
    host.runIptables = async (args: string[]) => {
      host.iptables.push(args);
      if (args[0] === "-D") throw new Error("iptables -D DOCKER-USER failed: iptables: Bad rule (does a matching rule exist in that chain?).");
    };
    const state = await m.ensureNetworks("p", [network("default", "p")]);
    const bridge = state.networks["p_default"]!.bridge;
    expect(host.iptables).toContainEqual(["-D", "DOCKER-USER", "-i", "stkgone", "-m", "comment", "--comment", "stack", "-j", "ACCEPT"]);
    expect(host.iptables).toContainEqual(["-I", "DOCKER-USER", "1", "-i", bridge, "-m", "comment", "--comment", "stack", "-j", "ACCEPT"]);
    host.batchFails = (args) => args[0] === "-I";
    host.runIptables = async (args: string[]) => {
      if (args[0] === "-I") throw new Error("iptables -I DOCKER-USER failed: iptables: No chain/target/match by that name.");
    };
    await expect(m.ensureNetworks("q", [network("default", "q")])).rejects.toThrow(/No chain\/target\/match/);
    await m.removeNetworks("q", { all: true }).catch(() => undefined);
  });

  it("the host filter's accept rules go in as one iptables-restore transaction, read alongside stack's nft table", async () => {
    host.readForwardFilter = async () => ({ forwardPolicy: "DROP", dockerUserExists: true, stackRules: ["-A DOCKER-USER -i stkgone -m comment --comment stack -j ACCEPT"] });
    const state = await m.ensureNetworks("p", [network("default", "p")]);
    const bridge = state.networks["p_default"]!.bridge;
    expect(host.iptables).toEqual([]); // nothing rule by rule
    expect(host.batches).toEqual([
      [
        ["-D", "DOCKER-USER", "-i", "stkgone", "-m", "comment", "--comment", "stack", "-j", "ACCEPT"],
        ["-I", "DOCKER-USER", "1", "-i", bridge, "-m", "comment", "--comment", "stack", "-j", "ACCEPT"],
        ["-I", "DOCKER-USER", "1", "-o", bridge, "-m", "comment", "--comment", "stack", "-j", "ACCEPT"],
      ],
    ]);
    expect(renderIptablesRestore(host.batches[0]!.slice(1, 2))).toBe(`*filter\n-I DOCKER-USER 1 -i ${bridge} -m comment --comment stack -j ACCEPT\nCOMMIT\n`);
    await m.removeNetworks("p", { all: true });
  });

  it("the same firewall inputs twice in one command are applied once (down, then its final clean-up); a change applies again", async () => {
    let reads = 0;
    const read = host.readStackTable.bind(host);
    host.readStackTable = async () => (reads++, read());
    await m.ensureNetworks("p", [network("default", "p")]);
    const after = reads;
    await m.applyFirewall();
    await m.applyFirewall();
    expect(reads).toBe(after);
    await m.removeNetworks("p", { all: true });
    expect(reads).toBe(after + 1);
    expect(host.nft.at(-1)).toMatch(/^delete table ip stack/);
    await m.removeNetworks("p", { all: true });
    expect(reads).toBe(after + 1);
  });

  it("deferFirewall: ensureNetworks resolves once the bridges exist, the firewall follows, and firewallSettled says when (or why not)", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const write = host.runNft.bind(host);
    host.runNft = async (script: string) => (await gate, write(script));
    const state = await m.ensureNetworks("p", [network("default", "p")], { deferFirewall: true });
    const bridge = state.networks["p_default"]!.bridge;
    expect(host.ip).toContain(`link set ${bridge} up`);
    expect(host.nft).toEqual([]); // not applied yet
    // An attach goes on meanwhile.
    await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain });
    let settled = false;
    const waiting = m.firewallSettled().then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    release();
    await waiting;
    expect(host.nft).toHaveLength(1);
    expect(host.nft[0]).toContain(bridge);
    // A failure reaches whoever waits for it, and the next change still runs.
    host.runNft = async () => {
      throw new Error("nft failed: Error: Could not process rule");
    };
    await m.ensureNetworks("q", [network("default", "q")], { deferFirewall: true });
    await expect(m.firewallSettled()).rejects.toThrow(/Could not process rule/);
    host.runNft = write;
    await m.applyFirewall();
    await expect(m.firewallSettled()).resolves.toBeUndefined();
    await m.removeNetworks("q", { all: true });
    await m.removeNetworks("p", { all: true });
  });

  /** Makes the fake host note its firewall and route reads in `order`; returns the unrecorded route read (for a test that wraps it itself). */
  function recordReads(order: string[]): { readRoutes: () => ReturnType<RecordingHost["readRoutes"]> } {
    const [readTable, readFilter, readRoutes] = [host.readStackTable.bind(host), host.readForwardFilter.bind(host), host.readRoutes.bind(host)];
    host.readStackTable = async () => (order.push("read table"), readTable());
    host.readForwardFilter = async () => (order.push("read filter"), readFilter());
    host.readRoutes = async () => (order.push("read routes"), readRoutes());
    return { readRoutes };
  }

  it("reads the firewall beside the route read when a network is to be made (once), and never while a change is still being applied", async () => {
    const order: string[] = [];
    recordReads(order);
    const write = host.runNft.bind(host);
    host.runNft = async (script: string) => (order.push("write table"), write(script));
    const made = await m.ensureNetworks("p", [network("default", "p")]);
    expect(order).toEqual(["read table", "read filter", "read routes", "write table"]);
    host.links.push(made.networks["p_default"]!.bridge);
    // Nothing to make: nothing read ahead.
    order.length = 0;
    await m.ensureNetworks("p", [network("default", "p")]);
    expect(order).toEqual([]);
    // A change in flight: the next network's reads wait for it (they would see the table before it).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    host.runNft = async (script: string) => (order.push("write table"), await gate, write(script));
    host.links.push("stkanother0"); // a stack bridge appeared: the inputs changed
    const pending = m.applyFirewall();
    await new Promise((r) => setTimeout(r, 10));
    const second = m.ensureNetworks("q", [network("default", "q")], { deferFirewall: true });
    await second;
    expect(order).toEqual(["read table", "read filter", "write table", "read routes"]);
    release();
    await pending;
    await m.firewallSettled();
    expect(order).toEqual(["read table", "read filter", "write table", "read routes", "read table", "read filter", "write table"]);
    host.runNft = write;
    await m.removeNetworks("q", { all: true });
    await m.removeNetworks("p", { all: true });
  });

  it("prefetch reads routes and the firewall ahead for the next ensureNetworks, once; only when a network is to be made", async () => {
    const order: string[] = [];
    const { readRoutes } = recordReads(order);
    let failRoutes = 1;
    host.readRoutes = async () => {
      order.push("read routes");
      if (failRoutes-- > 0) throw new Error("ip: cannot talk to rtnetlink");
      return readRoutes();
    };
    m.prefetch("p", [network("a", "p"), network("b", "p")]);
    await new Promise((r) => setTimeout(r, 10));
    // The failed route read was tried again at once.
    expect(order).toEqual(["read routes", "read table", "read filter", "read routes"]);
    const made = await m.ensureNetworks("p", [network("a", "p"), network("b", "p")]);
    expect(order).toEqual(["read routes", "read table", "read filter", "read routes"]); // nothing read again
    expect(made.networks["p_a"]!.subnet).not.toBe(made.networks["p_b"]!.subnet);
    host.links.push(made.networks["p_a"]!.bridge, made.networks["p_b"]!.bridge);
    order.length = 0;
    m.prefetch("p", [network("a", "p")]);
    await m.ensureNetworks("p", [network("a", "p")]);
    expect(order).toEqual([]);
    // Read ahead and never used: no unhandled rejection either.
    failRoutes = 5;
    m.prefetch("q", [network("a", "q")]);
    await new Promise((r) => setTimeout(r, 10));
    await expect(m.ensureNetworks("q", [network("a", "q")])).rejects.toThrow(/cannot talk to rtnetlink/);
    await m.removeNetworks("p", { all: true });
  });

  it("firewall changes apply one after the other, each from the state as it is when it starts (a later one never loses to an older)", async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const write = host.runNft.bind(host);
    let first = true;
    host.runNft = async (script: string) => {
      const mine = first;
      first = false;
      order.push(`start ${mine ? "first" : "second"}`);
      if (mine) await gate;
      order.push(`end ${mine ? "first" : "second"}`);
      return write(script);
    };
    await m.ensureNetworks("p", [network("default", "p")], { deferFirewall: true });
    // Published ports change the state while the first change is still running: the second must see them.
    const publishing = (async () => {
      await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain });
      await m.publishPorts("p", "p-web-1", [{ target: 80, protocol: "tcp", mode: "ingress", published: "8080" }], { via: "dnat" });
    })();
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(["start first"]);
    release();
    await publishing;
    expect(order).toEqual(["start first", "end first", "start second", "end second"]);
    expect(host.nft.at(-1)).toContain("dport 8080");
    await m.removeNetworks("p", { all: true });
  });

  it("creates a bridge on a free subnet, enables forwarding, and restores it with the last network", async () => {
    const state = await m.ensureNetworks("p", [network("default", "p", { mtu: 1400 })]);
    const net = state.networks["p_default"]!;
    expect(net.subnet).toBe("172.30.1.0/24");
    expect(host.ip.filter((l) => !l.startsWith("~"))).toEqual([
      expect.stringMatching(new RegExp(`^link add ${net.bridge} mtu 1400 address 02:[0-9a-f:]+ type bridge$`)),
      `addr add 172.30.1.1/24 dev ${net.bridge}`,
      `link set ${net.bridge} up`,
    ]);
    expect(host.sysctl["net.ipv4.ip_forward"]).toBe("1");
    expect(host.sysctl[`net.ipv4.conf.${net.bridge}.route_localnet`]).toBe("1");
    await m.removeNetworks("p", { all: true });
    expect(host.sysctl["net.ipv4.ip_forward"]).toBe("0");
    expect(host.ip).toContain(`~link del ${net.bridge}`);
    expect(host.nft.at(-1)).toBe("delete table ip stack\n");
  });

  it("attaches in priority-then-name order with the first non-internal gateway as default route", async () => {
    await m.ensureNetworks("p", [network("a", "p", { internal: true }), network("b", "p"), network("c", "p")]);
    const nets = m.readState("p").networks;
    const r = await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { c: sn({ priority: 10 }), a: sn(), b: sn({ aliases: ["www"] }) }, macAddress: "02:00:00:00:00:01", ...plain });
    expect(r.addresses.map((a) => `${a.ifname}:${a.network}`)).toEqual(["eth0:p_c", "eth1:p_a", "eth2:p_b"]);
    expect(r.netnsPath).toBe("/run/netns/stack-p.web-1");
    expect(r.resolvConf).toBe(`nameserver ${nets["p_c"]!.gateway}\n`);
    expect(host.ip).toContain(`[stack-p.web-1] route add default via ${nets["p_c"]!.gateway}`);
    expect(host.ip.some((l) => l.includes("peer name eth0 address 02:00:00:00:00:01 netns stack-p.web-1"))).toBe(true);
    expect(orderServiceNetworks({ z: sn(), y: sn() })).toEqual(["y", "z"]);
  });

  it("asks the host for namespaces ahead with the networks, and attaches in one host-side request per veth", async () => {
    await m.ensureNetworks("p", [network("default", "p", { mtu: 1400 })]);
    expect(host.prepared).toBe(1);
    const bridge = m.readState("p").networks["p_default"]!.bridge;
    host.ip = [];
    await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain });
    const veth = m.readState("p").containers["p-web-1"]!.endpoints[0]!.hostVeth;
    expect(host.ip).toEqual([
      "netns add stack-p.web-1",
      `link add ${veth} mtu 1400 master ${bridge} up type veth peer name eth0 mtu 1400 address 02:42:ac:1e:01:02 netns stack-p.web-1`,
      "[stack-p.web-1] link set lo up",
      "[stack-p.web-1] addr add 172.30.1.2/24 dev eth0",
      "[stack-p.web-1] link set eth0 up",
      "[stack-p.web-1] route add default via 172.30.1.1",
    ]);
  });

  it("records an attach before the host changes, also when written without fsync", async () => {
    await m.ensureNetworks("p", [network("default", "p")]);
    let recordedFirst = false;
    const run = host.runIp.bind(host);
    host.runIp = async (commands, options) => {
      if (commands.some((c) => c.args.join(" ") === "netns add stack-p.web-1")) recordedFirst = !!m.readState("p").containers["p-web-1"];
      return run(commands, options);
    };
    await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain });
    expect(recordedFirst).toBe(true);
    // No temporary file is left beside the state.
    expect(readdirSync(join(dir, "projects", "p"))).toEqual(["network.json"]);
    await m.detachContainer("p", "p-web-1");
    expect(m.readState("p").containers).toEqual({});
    expect(readdirSync(join(dir, "projects", "p"))).toEqual(["network.json"]);
  });

  it("writes hosts with the own address, extra_hosts and host-gateway", async () => {
    await m.ensureNetworks("p", [network("default", "p")]);
    const r = await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain, hostname: "web", extraHosts: [{ host: "host.docker.internal", ip: "host-gateway" }, { host: "db", ip: "10.0.0.5" }] });
    expect(r.hostsFile).toBe("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n172.30.1.2\tweb\n172.30.1.1\thost.docker.internal\n10.0.0.5\tdb\n");
  });

  it("makes a recorded bridge again when it is gone from the host, and leaves a present one alone", async () => {
    const first = await m.ensureNetworks("p", [network("default", "p")]);
    const bridge = first.networks["p_default"]!.bridge;
    host.ip = [];
    const again = await m.ensureNetworks("p", [network("default", "p")]);
    expect(again.networks["p_default"]).toEqual(first.networks["p_default"]);
    expect(host.ip).toContain(`addr add 172.30.1.1/24 dev ${bridge}`);
    host.ip = [];
    host.links = [bridge];
    await m.ensureNetworks("p", [network("default", "p")]);
    expect(host.ip).toEqual([]);
  });

  it("gives an internal-only container no default route", async () => {
    await m.ensureNetworks("p", [network("a", "p", { internal: true })]);
    await m.attachContainer("p", { container: "p-x-1", service: "x", networks: { a: sn() }, ...plain });
    expect(host.ip.some((l) => l.includes("route add default"))).toBe(false);
  });

  it("handles network_mode none, host and service:NAME", async () => {
    await m.ensureNetworks("p", [network("default", "p")]);
    const none = await m.attachContainer("p", { container: "p-n-1", service: "n", networkMode: "none", networks: { default: sn() }, ...plain });
    expect(none.addresses).toEqual([]);
    expect(host.ip).toContain("[stack-p.n-1] link set lo up");
    expect(none.resolvConf).toBe("nameserver 192.0.2.53\n");
    const h = await m.attachContainer("p", { container: "p-h-1", service: "h", networkMode: "host", networks: {}, ...plain });
    expect(h).toMatchObject({ mode: "host", addresses: [] });
    const web = await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain });
    const side = await m.attachContainer("p", { container: "p-side-1", service: "side", networkMode: "service:web", networks: {}, ...plain });
    expect(side.netnsPath).toBe(web.netnsPath);
    await m.detachContainer("p", "p-side-1");
    expect(host.ip.filter((l) => l.includes("netns del stack-p.web-1"))).toEqual([]);
  });

  it.each([
    { name: "an unknown network mode", req: { networkMode: "bridged" }, message: 'services.web.network_mode: "bridged" is not a network mode' },
    { name: "service: of a service with no container", req: { networkMode: "service:db" }, message: 'services.web.network_mode: "service:db" names no running container of project "p"' },
    { name: "a network that was not created", req: { networks: { nope: sn() } }, message: 'services.web.networks.nope: network "nope" has not been created' },
  ])("refuses $name", async ({ req, message }) => {
    await m.ensureNetworks("p", [network("default", "p")]);
    await expect(m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain, ...req })).rejects.toThrow(message);
  });

  it("refuses a driver other than bridge, and a missing external network", async () => {
    await expect(m.ensureNetworks("p", [network("o", "p", { driver: "overlay" })])).rejects.toThrow('networks.o.driver: "overlay" is not supported by stack');
    await expect(m.ensureNetworks("p", [network("shared", "p", { external: true, name: "shared" })])).rejects.toThrow('networks.shared: external network "shared" does not exist');
  });

  it("shares an external network with the project that created it, and never deletes it", async () => {
    await m.ensureNetworks("owner", [network("net", "owner", { name: "shared" })]);
    await m.ensureNetworks("user", [network("shared", "user", { external: true, name: "shared" })]);
    const a = await m.attachContainer("owner", { container: "owner-a-1", service: "a", networks: { net: sn() }, ...plain });
    const b = await m.attachContainer("user", { container: "user-b-1", service: "b", networks: { shared: sn() }, ...plain });
    expect(a.addresses[0]!.address).not.toBe(b.addresses[0]!.address);
    const zones = buildDnsZones(m.readAllStates());
    expect(zones.map((z) => [z.network, Object.keys(z.names).sort()])).toEqual([["shared", ["a", "b", "owner-a-1", "user-b-1"]]]);
    const bridge = m.readState("owner").networks["shared"]!.bridge;
    await m.removeNetworks("user", { all: true });
    await m.removeNetworks("owner", { all: true });
    expect(host.ip.filter((l) => l === `~link del ${bridge}`)).toHaveLength(1);
  });

  it("refuses a used port, naming the stack project that holds it, and another program's port", async () => {
    await m.ensureNetworks("p", [network("default", "p")]);
    await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain });
    const [pub] = await m.publishPorts("p", "p-web-1", [{ target: 80, protocol: "tcp", mode: "ingress", published: "8080" }], { via: "dnat" });
    expect(pub).toMatchObject({ hostIp: "", hostPort: 8080, target: 80 });
    expect(host.nft.at(-1)).toContain("tcp dport 8080 dnat to 172.30.1.2:80");
    await m.ensureNetworks("q", [network("default", "q")]);
    await m.attachContainer("q", { container: "q-api-1", service: "api", networks: { default: sn() }, ...plain });
    await expect(m.publishPorts("q", "q-api-1", [{ target: 80, protocol: "tcp", mode: "ingress", published: "8080" }], { via: "dnat" })).rejects.toThrow('0.0.0.0: port 8080/tcp is already in use by stack project "p" (service web)');
    host.busyPorts.add(9090);
    await expect(m.publishPorts("q", "q-api-1", [{ target: 80, protocol: "tcp", mode: "ingress", published: "9090" }], { via: "dnat" })).rejects.toThrow("port 9090/tcp is already in use by another program on this host");
    await expect(m.publishPorts("q", "q-nope-1", [], { via: "dnat" })).rejects.toThrow('container "q-nope-1" has no network address');
  });

  it("cleans leftovers: recorded namespaces and stray stack-<project>.* ones, never another project's", async () => {
    await m.ensureNetworks("p", [network("default", "p")]);
    await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain });
    host.netns = ["stack-p.ghost-1", "stack-p-x.web-1", "stack-other.x-1"];
    host.ip = [];
    await m.cleanLeftovers("p");
    expect(host.ip).toContain("~netns del stack-p.ghost-1");
    expect(host.ip).toContain("~netns del stack-p.web-1");
    expect(host.ip.some((l) => l.includes("stack-other"))).toBe(false);
    expect(host.ip.some((l) => l.includes("stack-p-x.web-1"))).toBe(false); // project "p-x" is not "p"
    expect(m.readState("p")).toMatchObject({ networks: {}, containers: {}, ports: [] });
  });
});

describe("NetworkManager.checkPublishedPorts", () => {
  let dir: string;
  let host: RecordingHost;
  let m: NetworkManager;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-netunit-"));
    host = new RecordingHost();
    m = new NetworkManager({ host, stateDir: dir });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("passes free ports and the project's own current ones, refuses others before anything starts", async () => {
    await m.ensureNetworks("p", [network("default", "p")]);
    await m.attachContainer("p", { container: "p-web-1", service: "web", networks: { default: sn() }, ...plain });
    await m.publishPorts("p", "p-web-1", [{ target: 80, protocol: "tcp", mode: "ingress", published: "8080" }], { via: "dnat" });
    // Re-publishing the same container keeps its port.
    await m.publishPorts("p", "p-web-1", [{ target: 80, protocol: "tcp", mode: "ingress", published: "8080" }], { via: "dnat" });
    const web = { service: "web", ports: [{ target: 80, protocol: "tcp" as const, mode: "ingress" as const, published: "8080" }] };
    await m.checkPublishedPorts("p", [web, { service: "api", ports: [{ target: 1, protocol: "udp", mode: "ingress" }] }]);
    await expect(m.checkPublishedPorts("q", [web])).rejects.toThrow('port 8080/tcp is already in use by stack project "p" (service web)');
    await expect(m.checkPublishedPorts("q", [{ service: "a", ports: [{ target: 1, protocol: "tcp", mode: "ingress", published: "7000" }] }, { service: "b", ports: [{ target: 2, protocol: "tcp", mode: "ingress", published: "7000" }] }])).rejects.toThrow(
      "port 7000/tcp is already in use by another ports entry of this stack (service a)",
    );
    expect(host.ip.filter((l) => l.includes("q"))).toEqual([]);
  });
});

describe("macAddressFor", () => {
  it("derives Docker's 02:42 MAC from the IPv4 address, so a recreated container keeps its MAC with its address", () => {
    expect(macAddressFor("172.30.0.2")).toBe("02:42:ac:1e:00:02");
    expect(macAddressFor("10.255.1.200")).toBe("02:42:0a:ff:01:c8");
  });
});

describe("parseForwardFilter (one `iptables -S` of the filter table)", () => {
  it("finds the FORWARD policy, Docker's DOCKER-USER chain and only stack's own accept rules", () => {
    const listing = [
      "-P INPUT ACCEPT", "-P FORWARD DROP", "-P OUTPUT ACCEPT", "-N DOCKER", "-N DOCKER-USER",
      "-A FORWARD -j DOCKER-USER", "-A FORWARD -o docker0 -j DOCKER",
      "-A DOCKER-USER -i stkabc -m comment --comment stack -j ACCEPT",
      "-A DOCKER-USER -o stkabc -m comment --comment stack -j ACCEPT",
      "-A DOCKER-USER -j RETURN", "-A FORWARD -i other -m comment --comment stacked -j ACCEPT", "",
    ].join("\n");
    expect(parseForwardFilter(listing)).toEqual({
      forwardPolicy: "DROP",
      dockerUserExists: true,
      stackRules: ["-A DOCKER-USER -i stkabc -m comment --comment stack -j ACCEPT", "-A DOCKER-USER -o stkabc -m comment --comment stack -j ACCEPT"],
    });
  });

  it("a host without Docker (or without iptables: empty listing)", () => {
    expect(parseForwardFilter("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n")).toEqual({ forwardPolicy: "ACCEPT", dockerUserExists: false, stackRules: [] });
    expect(parseForwardFilter("")).toEqual({ dockerUserExists: false, stackRules: [] });
  });
});

describe("parseRouteListings (one `ip -j -batch` of the IPv4 and IPv6 route tables)", () => {
  it("reads both arrays, drops local and broadcast routes, and yields nothing for no output", () => {
    const out = '[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},{"type":"local","dst":"10.0.0.5","dev":"eth0"},{"dst":"10.0.0.0/24","dev":"eth0"}]\n[{"dst":"fd00:1::/64","dev":"eth0"},{"type":"broadcast","dst":"10.0.0.255"}]\n';
    expect(parseRouteListings(out).map((r) => r.dst)).toEqual(["default", "10.0.0.0/24", "fd00:1::/64"]);
    expect(parseRouteListings("")).toEqual([]);
    expect(parseRouteListings("[]\n[]\n")).toEqual([]);
  });
});
