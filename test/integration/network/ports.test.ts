// Published ports: TCP and UDP from the host's loopback and from another host
// address, through nftables DNAT and through the userland proxy; ports held
// by another program or another stack project are refused before anything
// starts.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { skipUnlessRoot } from "../../helpers/root.js";
import { snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { NetworkManager } from "../../../src/network/network-manager.js";
import { LinuxNetworkHost } from "../../../src/network/host-system.js";
import { startPortProxy } from "../../../src/network/port-proxy.js";
import { lookupPublishedPort } from "../../../src/network/ports.js";
import type { PortModel } from "../../../src/schema/model.js";
import { assertNoNetworkLeaks, bridgeNetwork, startIn, udpEchoServer, waitFor } from "./netns-tools.js";

const sn = () => ({ aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} });
const plain = { extraHosts: [], dns: [], dnsSearch: [], dnsOpt: [], links: [] };
const port = (target: number, protocol: "tcp" | "udp", published?: string, host_ip?: string): PortModel => ({ target, protocol, mode: "ingress", ...(published ? { published } : {}), ...(host_ip ? { host_ip } : {}) });

async function httpGet(host: string, p: number): Promise<string> {
  try {
    const r = await fetch(`http://${host}:${p}/`, { signal: AbortSignal.timeout(2000) });
    return await r.text();
  } catch (e) {
    return `failed: ${(e as Error).message}`;
  }
}

async function udpAskHost(host: string, p: number, message: string): Promise<string> {
  const sock = createSocket("udp4");
  try {
    return await new Promise<string>((resolve) => {
      const t = setTimeout(() => resolve("failed: no reply"), 1500);
      sock.on("message", (m) => {
        clearTimeout(t);
        resolve(String(m));
      });
      sock.send(message, p, host);
    });
  } finally {
    sock.close();
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe.skipIf(skipUnlessRoot("published port tests"))("published ports", () => {
  let dir: string;
  let before: HostSnapshot;
  let manager: NetworkManager;
  let gateway: string;
  const stops: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "stack-net-"));
    before = snapshotHost([dir]);
    manager = new NetworkManager({ host: new LinuxNetworkHost(), stateDir: join(dir, "state") });
    await manager.ensureNetworks("p1", [bridgeNetwork("default", "p1")]);
    gateway = manager.readState("p1").networks["p1_default"]!.gateway;
    await manager.attachContainer("p1", { container: "p1-web-1", service: "web", networks: { default: sn() }, ...plain });
    const www = join(dir, "www");
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, "index.html"), "web");
    stops.push(startIn("stack-p1.web-1", ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", www]).stop);
    stops.push(startIn("stack-p1.web-1", udpEchoServer(7001, "web")).stop);
  });

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    for (const p of ["p1", "p2"]) await manager.removeNetworks(p, { all: true });
    rmSync(dir, { recursive: true, force: true });
    assertNoNetworkLeaks(before, [dir]);
  });

  it("forwards TCP (random host port) and UDP (fixed port) through DNAT from loopback and another host address", async () => {
    const udpPort = await freePort();
    const published = await manager.publishPorts("p1", "p1-web-1", [port(80, "tcp"), port(7001, "udp", String(udpPort))], { via: "dnat" });
    const tcp = lookupPublishedPort(published, { service: "web", target: 80 })!;
    expect(tcp.hostPort).toBeGreaterThan(0);
    expect(lookupPublishedPort(published, { service: "web", target: 7001, protocol: "udp" })!.hostPort).toBe(udpPort);
    await waitFor(async () => (await httpGet("127.0.0.1", tcp.hostPort)) === "web");
    expect(await httpGet(gateway, tcp.hostPort)).toBe("web");
    await waitFor(async () => (await udpAskHost("127.0.0.1", udpPort, "ping")) === "web:ping");
    await manager.unpublishPorts("p1", "p1-web-1");
    expect(await httpGet("127.0.0.1", tcp.hostPort)).toMatch(/^failed/);
  });

  it("publishes only on the given host address", async () => {
    const p = await freePort();
    await manager.publishPorts("p1", "p1-web-1", [port(80, "tcp", String(p), gateway)], { via: "dnat" });
    await waitFor(async () => (await httpGet(gateway, p)) === "web");
    expect(await httpGet("127.0.0.1", p)).toMatch(/^failed/);
  });

  it("forwards TCP and UDP through the userland proxy", async () => {
    const [t, u] = [await freePort(), await freePort()];
    const published = await manager.publishPorts("p1", "p1-web-1", [port(80, "tcp", String(t)), port(7001, "udp", String(u))], { via: "proxy" });
    const proxies = await Promise.all(published.map((m) => startPortProxy(m)));
    stops.push(async () => {
      for (const p of proxies) await p.stop();
    });
    await waitFor(async () => (await httpGet("127.0.0.1", t)) === "web");
    await waitFor(async () => (await udpAskHost("127.0.0.1", u, "ping")) === "web:ping");
  });

  it("refuses a port held by another program or another stack project, naming the project", async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "0.0.0.0", () => r()));
    stops.push(() => new Promise<void>((r) => holder.close(() => r())));
    const held = (holder.address() as { port: number }).port;
    await expect(manager.publishPorts("p1", "p1-web-1", [port(80, "tcp", String(held))], { via: "dnat" })).rejects.toThrow(`port ${held}/tcp is already in use by another program`);

    const p = await freePort();
    await manager.publishPorts("p1", "p1-web-1", [port(80, "tcp", String(p))], { via: "dnat" });
    await manager.ensureNetworks("p2", [bridgeNetwork("default", "p2")]);
    await manager.attachContainer("p2", { container: "p2-api-1", service: "api", networks: { default: sn() }, ...plain });
    await expect(manager.publishPorts("p2", "p2-api-1", [port(8080, "tcp", String(p))], { via: "dnat" })).rejects.toThrow(`already in use by stack project "p1" (service web)`);
    // A range skips the held port.
    const [got] = await manager.publishPorts("p2", "p2-api-1", [port(8080, "tcp", `${p}-${p + 1}`)], { via: "dnat" });
    expect(got!.hostPort).toBe(p + 1);
  });
});
