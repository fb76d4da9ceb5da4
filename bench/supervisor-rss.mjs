// bench/supervisor-rss: peak RSS (VmHWM) of a project's supervisor while it
// supervises N running processes (default 20), each writing a log line every
// 20 ms, half of them with a healthcheck every 500 ms; compared with a bare
// idle `node` process measured in the same run. Goal: under 80 MB.
// Uses the host-process runtime (same FIFO + exit-file process model as the
// OCI runtime). Build first: npx tsc -p tsconfig.build.json.
//
//   node bench/supervisor-rss.mjs [--containers N] [--seconds S] [--json]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const count = opt("--containers", 20);
const seconds = opt("--seconds", 10);
const asJson = args.includes("--json");

const dist = (p) => fileURLToPath(new URL(`../dist/supervisor/${p}`, import.meta.url));
if (!existsSync(dist("main.js"))) {
  console.error("bench/supervisor-rss: dist/supervisor is missing; run `npx tsc -p tsconfig.build.json` first");
  process.exit(2);
}
const { ensureSupervisor } = await import(dist("client.js"));
const { HostProcessRuntime } = await import(dist("host-process-runtime.js"));
const { DEFAULT_ROTATION } = await import(dist("log-rotation.js"));

const kb = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const project = "rssbench";
const stateDir = mkdtempSync(join(tmpdir(), "stack-rss-state-"));
const runDir = mkdtempSync(join(tmpdir(), "stack-rss-run-"));
const runtime = new HostProcessRuntime(join(stateDir, "projects", project, "containers"));
const peer = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
const ids = [];
let client;
try {
  client = await ensureSupervisor(project, stateDir, runDir, { entry: dist("main.js"), runtime: "host-process", idleMs: 1000 });
  const pid = client.info.pid;
  for (let i = 1; i <= count; i++) {
    const id = `svc${i}-1`;
    ids.push(id);
    const dir = runtime.create(id, ["sh", "-c", `n=0; while true; do echo "svc${i} line $n"; n=$((n+1)); sleep 0.02; done`]);
    await runtime.start(id);
    const healthcheck = i % 2 === 0 ? { argv: ["true"], intervalMs: 500, timeoutMs: 2000, retries: 3, startPeriodMs: 0, startIntervalMs: 500 } : undefined;
    await client.watch({ id, service: `svc${i}`, index: 1, dir, restart: { condition: "always" }, healthcheck, logging: DEFAULT_ROTATION });
  }
  let maxRss = 0;
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    maxRss = Math.max(maxRss, kb(pid, "VmRSS"));
    await sleep(200);
  }
  const status = await client.status();
  let lines = 0;
  for await (const _ of client.logs({})) lines++;
  const result = {
    containers: count,
    seconds,
    running: status.filter((s) => s.state === "running").length,
    healthy: status.filter((s) => s.health === "healthy").length,
    logLines: lines,
    supervisorPeakRssMB: +(kb(pid, "VmHWM") / 1024).toFixed(1),
    supervisorMaxSampledRssMB: +(maxRss / 1024).toFixed(1),
    bareNodeRssMB: +(kb(peer.pid, "VmHWM") / 1024).toFixed(1),
    goalMB: 80,
  };
  if (asJson) console.log(JSON.stringify(result));
  else {
    console.log(`supervisor with ${result.running}/${count} running processes (${result.healthy} healthy), ${lines} log lines in ${seconds} s`);
    console.log(`  peak RSS (VmHWM): ${result.supervisorPeakRssMB} MB (goal < 80 MB); bare idle node: ${result.bareNodeRssMB} MB`);
  }
} finally {
  for (const id of ids) runtime.remove(id);
  if (client) {
    await client.shutdown().catch(() => {});
    client.close();
  }
  peer.kill();
  await sleep(300);
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
}
