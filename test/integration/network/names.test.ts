// Containers find each other by name through the embedded DNS (run in the
// test process, on the bridge gateway, port 53): TCP and UDP by name, aliases,
// round-robin for a scaled service, a restarted container's new address, and
// forwarding to a fake upstream resolver on loopback.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { netnsName } from "../../../src/network/names.js";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import dnsPacket from "dns-packet";
import { skipUnlessRoot } from "../../helpers/root.js";
import { snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { NetworkManager } from "../../../src/network/network-manager.js";
import { LinuxNetworkHost } from "../../../src/network/host-system.js";
import { DnsServer } from "../../../src/network/dns-server.js";
import { buildDnsZones } from "../../../src/network/dns-records.js";
import { assertNoNetworkLeaks, bridgeNetwork, runIn, startIn, udpAsk, udpEchoServer, waitFor, writeEtc } from "./netns-tools.js";

const sn = (aliases: string[] = []) => ({ aliases, link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} });
const plain = { extraHosts: [], dns: [], dnsSearch: [], dnsOpt: [], links: [] };

describe.skipIf(skipUnlessRoot("network name tests"))("embedded DNS between containers", () => {
  let dir: string;
  let before: HostSnapshot;
  let manager: NetworkManager;
  let dns: DnsServer | undefined;
  const stops: Array<() => Promise<void>> = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-net-"));
    before = snapshotHost([dir]);
    manager = new NetworkManager({ host: new LinuxNetworkHost(), stateDir: join(dir, "state") });
  });

  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await dns?.stop();
    dns = undefined;
    await manager.removeNetworks("names", { all: true });
    rmSync(dir, { recursive: true, force: true });
    assertNoNetworkLeaks(before, [dir]);
  });

  async function container(name: string, service: string, aliases: string[] = [], links: Array<{ service: string; alias: string }> = []) {
    const r = await manager.attachContainer("names", { container: name, service, networks: { default: sn(aliases) }, ...plain, links });
    return { ...r, ns: netnsName("names", name), etc: writeEtc(dir, name, r) };
  }

  async function startDns(upstreamPort?: number) {
    const net = manager.readState("names").networks["names_default"]!;
    dns = new DnsServer({ upstreams: upstreamPort ? [{ address: "127.0.0.1", port: upstreamPort }] : [], timeoutMs: 1000 });
    dns.updateRecords(buildDnsZones(manager.readAllStates()));
    await dns.start([{ address: net.gateway, port: 53 }]);
    return net;
  }

  it("resolves services, containers, aliases and links; reaches them over TCP and UDP; rotates scaled services", async () => {
    await manager.ensureNetworks("names", [bridgeNetwork("default", "names")]);
    const a = await container("names-a-1", "a", [], [{ service: "b", alias: "bee-link" }]);
    const b1 = await container("names-b-1", "b", ["bee"]);
    const b2 = await container("names-b-2", "b", ["bee"]);
    const net = await startDns();
    expect(a.resolvConf).toBe(`nameserver ${net.gateway}\n`);

    for (const [c, tag] of [[b1, "b1"], [b2, "b2"]] as const) {
      const www = join(dir, "www", tag);
      mkdirSync(www, { recursive: true });
      writeFileSync(join(www, "index.html"), tag);
      const http = startIn(c.ns, ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", www]);
      const udp = startIn(c.ns, udpEchoServer(7001, tag));
      stops.push(http.stop, udp.stop);
    }
    const b1Address = b1.addresses[0]!.address;
    const b2Address = b2.addresses[0]!.address;

    // TCP by container name (busybox wget, resolving through resolv.conf → embedded DNS).
    await waitFor(async () => (await runIn(a.ns, ["/bin/busybox", "wget", "-qO-", "http://names-b-1/"], { etcDir: a.etc })).stdout === "b1");
    // UDP by container name.
    await waitFor(async () => (await runIn(a.ns, udpAsk("names-b-2", 7001, "ping"), { etcDir: a.etc })).stdout.trim() === "b2:ping");

    // Service name, alias and link alias all answer with both replicas.
    for (const name of ["b", "bee", "bee-link"]) {
      const r = await runIn(a.ns, ["/bin/busybox", "nslookup", name], { etcDir: a.etc });
      expect(r.stdout, name).toContain(b1Address);
      expect(r.stdout, name).toContain(b2Address);
    }
    // Round-robin: the first answer alternates between the replicas.
    const firsts = new Set<string>();
    for (let i = 0; i < 4; i++) firsts.add((await lookupIn(a.ns, a.etc, "b"))[0]!);
    expect([...firsts].sort()).toEqual([b1Address, b2Address].sort());

    // A name from another network is not answered by the embedded DNS: forwarded, and no upstream → SERVFAIL, no address.
    const r = await runIn(a.ns, ["/bin/busybox", "nslookup", "names-a-1.invalid"], { etcDir: a.etc, timeout: 8000 });
    expect(r.exitCode).not.toBe(0);
  });

  it("answers a restarted container under its new address at once", async () => {
    await manager.ensureNetworks("names", [bridgeNetwork("default", "names")]);
    const a = await container("names-a-1", "a");
    const b = await container("names-b-1", "b");
    const filler = await container("names-c-1", "c");
    await startDns();
    expect(await lookupIn(a.ns, a.etc, "b")).toEqual([b.addresses[0]!.address]);
    // The restart: b goes away, d takes its address, b comes back under a new one.
    await manager.detachContainer("names", "names-b-1");
    const other = await container("names-d-1", "d");
    const b2 = await container("names-b-1", "b");
    expect(b2.addresses[0]!.address).not.toBe(b.addresses[0]!.address);
    dns!.updateRecords(buildDnsZones(manager.readAllStates()));
    expect(await lookupIn(a.ns, a.etc, "b")).toEqual([b2.addresses[0]!.address]);
    expect([filler.addresses[0]!.address, other.addresses[0]!.address]).not.toContain(b2.addresses[0]!.address);
  });

  it("forwards other names to the upstream resolver and caches the answer for its TTL", async () => {
    let asked = 0;
    const upstream = createSocket("udp4");
    upstream.on("message", (msg, rinfo) => {
      asked++;
      const q = dnsPacket.decode(msg);
      const reply = dnsPacket.encode({
        type: "response",
        id: q.id,
        flags: dnsPacket.RECURSION_AVAILABLE,
        questions: q.questions,
        answers: [{ type: "A", name: q.questions![0]!.name, ttl: 60, class: "IN", data: "198.51.100.7" }],
      });
      upstream.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => upstream.bind(0, "127.0.0.1", () => resolve()));
    stops.push(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

    await manager.ensureNetworks("names", [bridgeNetwork("default", "names")]);
    const a = await container("names-a-1", "a");
    await startDns(upstream.address().port);
    const r = await runIn(a.ns, ["/bin/busybox", "nslookup", "outside.example"], { etcDir: a.etc });
    expect(r.stdout).toContain("198.51.100.7");
    const askedAfterFirst = asked;
    const again = await runIn(a.ns, ["/bin/busybox", "nslookup", "outside.example"], { etcDir: a.etc });
    expect(again.stdout).toContain("198.51.100.7");
    expect(asked).toBe(askedAfterFirst); // from the cache
  });
});

/** The IPv4 addresses busybox nslookup prints for `name` inside the namespace, in answer order. */
async function lookupIn(ns: string, etcDir: string, name: string): Promise<string[]> {
  const r = await runIn(ns, ["/bin/busybox", "nslookup", "-type=a", name], { etcDir });
  const answer = r.stdout.split("Name:")[1] ?? "";
  return [...answer.matchAll(/Address: (\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!);
}
