// bench/network: (1) median time to attach one container to one network
// (named netns + veth pair + address + route + the state record; goal
// < 15 ms), in the situations that differ: with a spare namespace ready (as
// in `up`, where one is made while the previous container starts),
// back-to-back (the next spare is still being made), without spares
// (`ip netns add` + one `ip -n` process per attach), on a fresh host object
// (the first attach of a process), and with one `ip` process per command;
// (2) TCP throughput to a container straight to its address, through a
// published port with nftables DNAT, and through the userland proxy, in one
// run (goal: published >= 80% of direct). Root only. Build first: npm run build.
//
//   node bench/network.mjs [--runs N] [--megabytes N] [--json]
import { execa } from "execa";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, quantile } from "./lib.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const runs = option("--runs", 20);
const megabytes = option("--megabytes", 512);
const loadAverage = (await import("node:os")).loadavg()[0];
const asJson = args.includes("--json");

if (!existsSync(fileURLToPath(new URL("../dist/network/index.js", import.meta.url)))) {
  console.error("bench/network: dist/ is missing; run `npm run build` first");
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error("bench/network: needs root (network namespaces, bridges, nftables)");
  process.exit(2);
}
const { NetworkManager, LinuxNetworkHost, startPortProxy } = await import("../dist/network/index.js");
const { planAttach } = await import("../dist/network/link-plan.js");

const network = (key, project) => ({ key, name: `${project}_${key}`, driver: "bridge", driver_opts: {}, external: false, internal: false, attachable: false, enable_ipv6: false, ipam: { config: [], options: {} }, labels: {} });
const sn = { aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} };
const plain = { extraHosts: [], dns: [], dnsSearch: [], dnsOpt: [], links: [] };

const dir = mkdtempSync(join(tmpdir(), "stack-bench-net-"));
const host = new LinuxNetworkHost();
const manager = new NetworkManager({ host, stateDir: dir });
const project = "benchnet";
const results = {};
let sink;
const proxies = [];
try {
  await manager.ensureNetworks(project, [network("default", project)]);
  const net = manager.readState(project).networks[`${project}_default`];

  const prefix = net.subnet.split(".").slice(0, 3).join(".");
  const request = (name) => ({ container: `${project}-${name}`, service: "c", networks: { default: sn }, ...plain });
  // Times `runs` attaches through `m` (each detached again, untimed); `before` runs untimed before each.
  const timeAttaches = async (tag, m, before = async () => {}) => {
    const samples = [];
    for (let i = 0; i < runs; i++) {
      await before(i);
      const t0 = performance.now();
      await m.attachContainer(project, request(`${tag}-${i}`));
      samples.push(performance.now() - t0);
      await m.detachContainer(project, `${project}-${tag}-${i}`);
    }
    return samples;
  };
  const figures = (samples) => ({ median: Number(median(samples).toFixed(2)), p90: Number(quantile(samples, 0.9).toFixed(2)) });

  // (1a) a spare namespace ready before each attach: the manager's path as `up` sees it.
  const warm = await timeAttaches("w", manager, () => host.whenPrepared());
  // (1b) back to back: the spare for the next attach is still starting.
  const backToBack = await timeAttaches("b", manager);
  // (1c) no spares: `ip netns add` on the host's ip, then one `ip -n NS -batch` process.
  const plainHost = new LinuxNetworkHost(undefined, { spareNamespaces: 0 });
  const noSpares = await timeAttaches("n", new NetworkManager({ host: plainHost, stateDir: dir }));
  await plainHost.close();
  // (1d) a fresh host object each time: the first attach of a process starts its ip processes.
  const fresh = [];
  for (let i = 0; i < runs; i++) {
    const h = new LinuxNetworkHost();
    const m = new NetworkManager({ host: h, stateDir: dir });
    const t0 = performance.now();
    await m.attachContainer(project, request(`f-${i}`));
    fresh.push(performance.now() - t0);
    await m.detachContainer(project, `${project}-f-${i}`);
    await h.close();
  }
  // (1e) the same commands with one `ip` process each.
  const perCommand = [];
  for (let i = 0; i < runs; i++) {
    const ns = `stack-${project}.x-${i}`;
    const cmds = planAttach({ netns: ns, createNetns: true, endpoints: [{ bridge: net.bridge, hostVeth: `stkbenchx${i}`, ifname: "eth0", address: `${prefix}.200`, prefix: 24 }], defaultGateway: net.gateway });
    const t0 = performance.now();
    for (const c of cmds) await execa("ip", [...(c.netns ? ["-n", c.netns] : []), ...c.args]);
    perCommand.push(performance.now() - t0);
    await execa("ip", ["netns", "del", ns]);
  }
  // The floor of any design that starts a process per attach: one `ip` that does nothing (`ip -V`), now.
  const spawnOnly = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await execa("ip", ["-V"]);
    spawnOnly.push(performance.now() - t0);
  }
  results.attachWarmMs = figures(warm);
  results.attachBackToBackMs = figures(backToBack);
  results.attachNoSparesMs = figures(noSpares);
  results.attachFreshHostMs = figures(fresh);
  results.attachPerCommandMs = figures(perCommand);
  results.ipSpawnBaselineMs = figures(spawnOnly);

  // (2) throughput: a TCP sink in the container.
  await manager.attachContainer(project, { container: `${project}-sink-1`, service: "sink", networks: { default: sn }, ...plain });
  const sinkRecord = manager.readState(project).containers[`${project}-sink-1`];
  const address = sinkRecord.endpoints[0].address;
  sink = execa("ip", ["netns", "exec", sinkRecord.netns, process.execPath, "-e", 'require("net").createServer(s=>{s.resume();s.on("end",()=>s.end())}).listen(5001)'], { reject: false });
  const [viaDnat] = await manager.publishPorts(project, `${project}-sink-1`, [{ target: 5001, protocol: "tcp", mode: "ingress" }], { via: "dnat" });
  const proxyPort = await new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  proxies.push(await startPortProxy({ ...viaDnat, hostIp: "127.0.0.1", hostPort: proxyPort }));

  const chunk = Buffer.alloc(1 << 20, 7);
  const send = (hostName, port) =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const sock = connect({ host: hostName, port }, () => {
        let left = megabytes;
        const pump = () => {
          while (left > 0) {
            left--;
            if (!sock.write(chunk)) return void sock.once("drain", pump);
          }
          sock.end();
        };
        pump();
      });
      sock.on("error", reject);
      sock.resume();
      sock.on("close", () => resolve(megabytes / ((performance.now() - t0) / 1000)));
    });
  const waitUp = async () => {
    for (let i = 0; i < 100; i++) {
      try {
        await send(address, 5001);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error("sink did not start");
  };
  await waitUp();
  const paths = { direct: [address, 5001], dnat: ["127.0.0.1", viaDnat.hostPort], proxy: ["127.0.0.1", proxyPort] };
  const samples = { direct: [], dnat: [], proxy: [] };
  for (let r = 0; r < 3; r++) for (const [name, [h, p]] of Object.entries(paths)) samples[name].push(await send(h, p));
  for (const name of Object.keys(samples)) results[`${name}MBps`] = Math.round(median(samples[name]));
  results.dnatRatio = Number((results.dnatMBps / results.directMBps).toFixed(2));
  results.proxyRatio = Number((results.proxyMBps / results.directMBps).toFixed(2));
} finally {
  for (const p of proxies) await p.stop();
  sink?.kill("SIGKILL");
  await sink;
  await manager.removeNetworks(project, { all: true });
  await manager.close();
  rmSync(dir, { recursive: true, force: true });
}

results.loadAverageAtStart = Number(loadAverage.toFixed(2));
results.loadAverageAtEnd = Number((await import("node:os")).loadavg()[0].toFixed(2));
if (asJson) console.log(JSON.stringify(results));
else {
  const f = (x) => `median ${x.median} ms (p90 ${x.p90})`;
  console.log(`host load average (1 min): ${results.loadAverageAtStart} at start, ${results.loadAverageAtEnd} at end`);
  console.log(`attach one container to one network, ${runs} runs each (goal < 15 ms):`);
  console.log(`  spare namespace ready:        ${f(results.attachWarmMs)}`);
  console.log(`  back to back:                 ${f(results.attachBackToBackMs)}`);
  console.log(`  no spares (ip netns add, ip -n): ${f(results.attachNoSparesMs)}`);
  console.log(`  first attach of a fresh host: ${f(results.attachFreshHostMs)}`);
  console.log(`  one ip process per command:   ${f(results.attachPerCommandMs)}`);
  console.log(`  one idle ip process (ip -V):  ${f(results.ipSpawnBaselineMs)}`);
  console.log(`TCP throughput (${megabytes} MB, median of 3): direct ${results.directMBps} MB/s, published via DNAT ${results.dnatMBps} MB/s (${Math.round(results.dnatRatio * 100)}%), via userland proxy ${results.proxyMBps} MB/s (${Math.round(results.proxyRatio * 100)}%) (goal >= 80%)`);
}
