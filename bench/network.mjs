// bench/network: (1) median time to attach one container to one network
// (netns + veth + address + route, state write included; goal < 15 ms), with
// the same operations run as one `ip` process per command for comparison;
// (2) TCP throughput to a container straight to its address, through a
// published port with nftables DNAT, and through the userland proxy, in one
// run (goal: published ≥ 80% of direct). Root only. Build first: npm run build.
//
//   node bench/network.mjs [--runs N] [--megabytes N] [--json]
import { execa } from "execa";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./lib.mjs";

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

  // (1) attach: the manager's path (ip -batch, two processes) …
  const attach = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await manager.attachContainer(project, { container: `${project}-c-${i}`, service: "c", networks: { default: sn }, ...plain });
    attach.push(performance.now() - t0);
    await manager.detachContainer(project, `${project}-c-${i}`);
  }
  // … and the same commands with one `ip` process each.
  const perCommand = [];
  for (let i = 0; i < runs; i++) {
    const ns = `stack-${project}-x-${i}`;
    const cmds = planAttach({ netns: ns, createNetns: true, endpoints: [{ bridge: net.bridge, hostVeth: `stkbenchx${i}`, ifname: "eth0", address: `${net.subnet.split(".").slice(0, 3).join(".")}.200`, prefix: 24 }], defaultGateway: net.gateway });
    const t0 = performance.now();
    for (const c of cmds) await execa("ip", [...(c.netns ? ["-n", c.netns] : []), ...c.args]);
    perCommand.push(performance.now() - t0);
    await execa("ip", ["netns", "del", ns]);
  }
  // … and the manager's ip -batch executor alone (no state file writes).
  const batchOnly = [];
  for (let i = 0; i < runs; i++) {
    const ns = `stack-${project}-y-${i}`;
    const cmds = planAttach({ netns: ns, createNetns: true, endpoints: [{ bridge: net.bridge, hostVeth: `stkbenchy${i}`, ifname: "eth0", address: `${net.subnet.split(".").slice(0, 3).join(".")}.201`, prefix: 24 }], defaultGateway: net.gateway });
    const t0 = performance.now();
    await host.runIp(cmds);
    batchOnly.push(performance.now() - t0);
    await execa("ip", ["netns", "del", ns]);
  }
  // The floor: starting one `ip` process that does nothing (`ip -V`) on this host, now.
  const spawnOnly = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await execa("ip", ["-V"]);
    spawnOnly.push(performance.now() - t0);
  }
  results.ipSpawnBaselineMs = Number(median(spawnOnly).toFixed(2));
  results.attachMedianMs = Number(median(attach).toFixed(2));
  results.attachIpBatchOnlyMedianMs = Number(median(batchOnly).toFixed(2));
  results.attachPerCommandMedianMs = Number(median(perCommand).toFixed(2));

  // (2) throughput: a TCP sink in the container.
  await manager.attachContainer(project, { container: `${project}-sink-1`, service: "sink", networks: { default: sn }, ...plain });
  const address = manager.readState(project).containers[`${project}-sink-1`].endpoints[0].address;
  sink = execa("ip", ["netns", "exec", `stack-${project}-sink-1`, process.execPath, "-e", 'require("net").createServer(s=>{s.resume();s.on("end",()=>s.end())}).listen(5001)'], { reject: false });
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
  rmSync(dir, { recursive: true, force: true });
}

results.loadAverageAtStart = Number(loadAverage.toFixed(2));
if (asJson) console.log(JSON.stringify(results));
else {
  console.log(`host load average at start: ${results.loadAverageAtStart}`);
  console.log(`attach one container to one network: median ${results.attachMedianMs} ms over ${runs} runs (goal < 15 ms); ip -batch executor alone: ${results.attachIpBatchOnlyMedianMs} ms; one ip process per command: ${results.attachPerCommandMedianMs} ms; starting one idle ip process (ip -V): ${results.ipSpawnBaselineMs} ms`);
  console.log(`TCP throughput (${megabytes} MB, median of 3): direct ${results.directMBps} MB/s, published via DNAT ${results.dnatMBps} MB/s (${Math.round(results.dnatRatio * 100)}%), via userland proxy ${results.proxyMBps} MB/s (${Math.round(results.proxyRatio * 100)}%) (goal ≥ 80%)`);
}
