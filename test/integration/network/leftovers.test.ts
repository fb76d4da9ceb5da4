// After a crash: a new manager (a new process) removes what the state file
// records and any stack-<project>.* namespace, leaving nothing behind. And
// the embedded DNS over TCP, on loopback.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import dnsPacket from "dns-packet";
import { skipUnlessRoot } from "../../helpers/root.js";
import { snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { NetworkManager } from "../../../src/network/network-manager.js";
import { LinuxNetworkHost } from "../../../src/network/host-system.js";
import { DnsServer } from "../../../src/network/dns-server.js";
import { firewallOwner } from "../../../src/network/names.js";
import { assertNoNetworkLeaks, bridgeNetwork } from "./netns-tools.js";

const sn = () => ({ aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} });
const plain = { extraHosts: [], dns: [], dnsSearch: [], dnsOpt: [], links: [] };

describe.skipIf(skipUnlessRoot("network leftover tests"))("crash leftovers and DNS over TCP", () => {
  let dir: string;
  let before: HostSnapshot;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-net-"));
    before = snapshotHost([dir]);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    assertNoNetworkLeaks(before, [dir]);
  });

  it("removes recorded and stray namespaces, veths, bridges and the nft table", async () => {
    const crashed = new NetworkManager({ host: new LinuxNetworkHost(), stateDir: join(dir, "state") });
    await crashed.ensureNetworks("lo1", [bridgeNetwork("default", "lo1")]);
    await crashed.attachContainer("lo1", { container: "lo1-a-1", service: "a", networks: { default: sn() }, ...plain });
    await crashed.publishPorts("lo1", "lo1-a-1", [{ target: 80, protocol: "tcp", mode: "ingress" }], { via: "dnat" });
    // A namespace made just before the crash, not yet recorded.
    await execa("ip", ["netns", "add", "stack-lo1.b-1"]);
    const after = new NetworkManager({ host: new LinuxNetworkHost(), stateDir: join(dir, "state") });
    await after.cleanLeftovers("lo1");
    // The table itself may be another state directory's (stacks running beside the tests): this one's chains are gone.
    const table = await execa("nft", ["list", "table", "ip", "stack"], { reject: false });
    expect(table.exitCode === 0 ? String(table.stdout) : "").not.toContain(`_${firewallOwner(join(dir, "state"))}`);
  });

  it("answers over TCP", async () => {
    const server = new DnsServer({ upstreams: [] });
    server.updateRecords([{ network: "n", subnet: "127.0.0.0/8", names: { web: ["172.30.9.2"] } }]);
    await server.start([{ address: "127.0.0.53", port: 5300 }]);
    try {
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const sock = connect({ host: "127.0.0.53", port: 5300 }, () => sock.write(dnsPacket.streamEncode({ type: "query", id: 9, questions: [{ type: "A", name: "web" }] })));
        let buf = Buffer.alloc(0);
        sock.on("data", (d) => {
          buf = Buffer.concat([buf, d]);
          if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            sock.destroy();
            resolve(buf);
          }
        });
        sock.on("error", reject);
      });
      const p = dnsPacket.streamDecode(reply);
      expect(p.id).toBe(9);
      expect((p.answers ?? []).map((a) => (a as { data: unknown }).data)).toEqual(["172.30.9.2"]);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(skipUnlessRoot("network shared-table tests"))("two state directories on one host", () => {
  let dir: string;
  let before: HostSnapshot;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-net-"));
    before = snapshotHost([dir]);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    assertNoNetworkLeaks(before, [dir]);
  });

  it("share table ip stack without removing each other's rules", async () => {
    const a = new NetworkManager({ host: new LinuxNetworkHost(), stateDir: join(dir, "a") });
    const b = new NetworkManager({ host: new LinuxNetworkHost(), stateDir: join(dir, "b") });
    try {
      await a.ensureNetworks("sa", [bridgeNetwork("default", "sa")]);
      await a.attachContainer("sa", { container: "sa-web-1", service: "web", networks: { default: sn() }, ...plain });
      const [pub] = await a.publishPorts("sa", "sa-web-1", [{ target: 80, protocol: "tcp", mode: "ingress" }], { via: "dnat" });
      // b does not see a's state: it picks the same first subnet unless the route of a's bridge is honoured.
      const sb = await b.ensureNetworks("sb", [bridgeNetwork("default", "sb")]);
      expect(sb.networks["sb_default"]!.subnet).not.toBe(a.readState("sa").networks["sa_default"]!.subnet);
      await b.removeNetworks("sb", { all: true });
      const table = String((await execa("nft", ["list", "table", "ip", "stack"])).stdout);
      expect(table).toContain(`tcp dport ${pub!.hostPort} dnat to ${pub!.containerAddress}:80`);
    } finally {
      await b.removeNetworks("sb", { all: true });
      await a.removeNetworks("sa", { all: true });
    }
  });
});
