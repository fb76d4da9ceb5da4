// bench/start: median wall time of one busybox `true` container through
// stack's runtime API (create + start + wait for exit + remove: overlay
// mount, cgroup with limits, spec, detached monitor, runc run, clean-up),
// against a bare `runc run` of the same rootfs and the same config.json in
// the same run (interleaved), and `stack run --rm -T SERVICE true` through the
// CLI as a user types it, twice: in a project that is up (its supervisor
// serves the run: the warm path, src/cli/run-handoff.ts) and in one where
// nothing runs (the CLI does it all: the cold path, where runc mounts the
// overlay itself and commander is not loaded). Goal: at most 3x bare runc. CPU time (user+sys of the CLI process and its children, which is
// all of the cold path's but only the client's share of the warm one) is
// printed next to each wall time. Needs root.
// Build first: npm run build.
//
//   node bench/start.mjs [--runs N] [--json] [--baseline CHECKOUT]
//
// --baseline: also runs the cold `stack run` of another built checkout (e.g.
// a worktree of the previous commit) in the same loop, for an A/B figure.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./lib.mjs";

const args = process.argv.slice(2);
const i = args.indexOf("--runs");
const runs = i >= 0 ? Number(args[i + 1]) : 20;
const asJson = args.includes("--json");
const b = args.indexOf("--baseline");
const baselineBin = b >= 0 ? join(args[b + 1], "bin", "stack") : undefined;

const entry = fileURLToPath(new URL("../dist/runtime/index.js", import.meta.url));
if (!existsSync(entry)) {
  console.error("bench/start: dist/ is missing; run `npm run build` first");
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error("bench/start: needs root (overlay mounts, cgroups, runc)");
  process.exit(2);
}
const { openRuntime } = await import(entry);


const base = mkdtempSync("/tmp/stack-bench-start-");
const lower = join(base, "lower");
for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp"]) mkdirSync(join(lower, d), { recursive: true });
copyFileSync("/bin/busybox", join(lower, "bin", "busybox"));
symlinkSync("busybox", join(lower, "bin", "true"));
symlinkSync("busybox", join(lower, "bin", "sh"));
writeFileSync(join(lower, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
writeFileSync(join(lower, "etc", "group"), "root:x:0:\n");

const service = {
  name: "bench", pull_policy: "missing", profiles: [], group_add: [], environment: {}, env_file: [], labels: {}, annotations: {},
  depends_on: {}, links: [], external_links: [], volumes_from: [], networks: {}, ports: [], expose: [], extra_hosts: [], dns: [],
  dns_search: [], dns_opt: [], volumes: [], tmpfs: [], secrets: [], configs: [], restart: "no", tty: false, stdin_open: false,
  read_only: false, privileged: false, cap_add: [], cap_drop: [], security_opt: [], sysctls: {}, ulimits: {}, devices: [],
  device_cgroup_rules: [], scale: 1, attach: true, extensions: {}, command: ["true"], mem_limit: 64 * 1024 * 1024, pids_limit: 64,
};
const stateDir = join(base, "state");
const runDir = join(base, "run");
const rt = openRuntime({ stateDir, runDir });

async function viaStack(n) {
  const t0 = process.hrtime.bigint();
  const h = await rt.create({ project: "bench", id: `s${n}`, service, image: {}, lowerdirs: [lower], network: { mode: "none" } });
  await rt.start(h);
  const code = await rt.wait(h, 30_000);
  await rt.remove(h);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (code !== 0) throw new Error(`stack container exited ${code}`);
  return ms;
}

// The bare bundle: the spec stack generated, pointed at the plain rootfs (read-only, so runc writes nothing into it) and a cgroup of its own.
const probe = await rt.create({ project: "bench", id: "probe", service, image: {}, lowerdirs: [lower], network: { mode: "none" } });
const spec = JSON.parse(readFileSync(join(probe.dir, "config.json"), "utf8"));
const bundle = join(base, "bundle");
mkdirSync(bundle);
// The files stack bind-mounts from the container's folder (/etc/hostname, /etc/hosts) go with the bare bundle.
for (const m of spec.mounts) {
  if (typeof m.source === "string" && m.source.startsWith(probe.dir + "/")) {
    const copy = join(bundle, m.source.slice(probe.dir.length + 1).replace(/\//g, "_"));
    copyFileSync(m.source, copy);
    m.source = copy;
  }
}
await rt.remove(probe);
spec.root = { path: lower, readonly: true };
const bareRoot = join(base, "bare-runc");
const runcBin = ["/usr/sbin/runc", "/usr/bin/runc"].find((p) => existsSync(p));

function bare(n) {
  spec.linux.cgroupsPath = `/stack/bench-bare/b${n}`;
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
  const t0 = process.hrtime.bigint();
  const r = spawnSync(runcBin, ["--root", bareRoot, "run", "--bundle", bundle, `b${n}`], { stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`bare runc exited ${r.status}: ${r.stderr}`);
  return ms;
}

// `stack run --rm -T bench true` as a user types it: Node start, project load,
// image lookup, network attach (network_mode none here, as the bare run has
// none), create, foreground run, remove.
const project = join(base, "project");
mkdirSync(project);
writeFileSync(join(project, "compose.yaml"), "services:\n  bench:\n    image: bench/busybox:1\n    network_mode: none\n    mem_limit: 64m\n    pids_limit: 64\n");
execFileSync("tar", ["-C", lower, "-cf", join(base, "rootfs.tar"), "."]);
const cliEnv = { ...process.env, STACK_STATE_DIR: join(base, "cli-state"), STACK_RUN_DIR: join(base, "cli-run"), STACK_PROJECT_NAME: "benchrun" };
const stackBin = fileURLToPath(new URL("../bin/stack", import.meta.url));
execFileSync(stackBin, ["image", "import", join(base, "rootfs.tar"), "bench/busybox:1"], { env: cliEnv, stdio: "ignore" });
// The same service in a project that is up (one idle service keeps its supervisor).
const upProject = join(base, "project-up");
mkdirSync(upProject);
writeFileSync(join(upProject, "compose.yaml"), readFileSync(join(project, "compose.yaml"), "utf8") + "  idle:\n    image: bench/busybox:1\n    network_mode: none\n    command: [\"busybox\", \"sleep\", \"3600\"]\n");
const upEnv = { ...cliEnv, STACK_PROJECT_NAME: "benchup" };
execFileSync(stackBin, ["up", "-d", "idle"], { env: upEnv, cwd: upProject, stdio: ["ignore", "ignore", "inherit"] });

/** CPU seconds (user+sys) of the children this process has waited for, so far. */
function childCpuMs() {
  const f = readFileSync("/proc/self/stat", "utf8");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // cutime, cstime in clock ticks (USER_HZ 100)
}
/** CPU ms of a running process and the children it waited for (the supervisor: its share of a warm run, runc included). */
function processCpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}
function viaCli(cwd, env, cpu, bin = stackBin) {
  const c0 = childCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, ["run", "--rm", "-T", "bench", "true"], { env, cwd, stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`stack run exited ${r.status}: ${r.stderr}`);
  cpu?.push(childCpuMs() - c0);
  return ms;
}

const loadAtStart = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const stack = [];
const runc = [];
const cli = [];
const cliCpu = [];
const warm = [];
const warmCpu = [];
const supervisorCpu = [];
const baseline = [];
const baselineCpu = [];
try {
  await viaStack("warm");
  bare("warm");
  viaCli(project, cliEnv);
  viaCli(upProject, upEnv);
  if (baselineBin) viaCli(project, cliEnv, undefined, baselineBin);
  const supervisorPid = Number(readFileSync(join(upEnv.STACK_RUN_DIR, "benchup", "supervisor.pid"), "utf8"));
  for (let n = 0; n < runs; n++) {
    stack.push(await viaStack(n));
    runc.push(bare(n));
    cli.push(viaCli(project, cliEnv, cliCpu));
    const s0 = processCpuMs(supervisorPid);
    warm.push(viaCli(upProject, upEnv, warmCpu));
    supervisorCpu.push(processCpuMs(supervisorPid) - s0);
    if (baselineBin) baseline.push(viaCli(project, cliEnv, baselineCpu, baselineBin));
  }
} finally {
  spawnSync(stackBin, ["down", "-t", "0"], { env: cliEnv, cwd: project, stdio: "ignore" });
  spawnSync(stackBin, ["down", "-t", "0"], { env: upEnv, cwd: upProject, stdio: "ignore" });
  await rt.cleanupLeftovers("bench");
  for (const d of ["/sys/fs/cgroup"]) {
    try {
      execFileSync("sh", ["-c", `for h in ${d}/*/stack/bench-bare ${d}/stack/bench-bare; do [ -d "$h" ] && rmdir "$h"/* "$h" 2>/dev/null; done; true`]);
    } catch {
      // best effort
    }
  }
  rmSync(base, { recursive: true, force: true });
}

const result = {
  runs,
  stackApiMedianMs: Number(median(stack).toFixed(1)),
  bareRuncMedianMs: Number(median(runc).toFixed(1)),
  ratio: Number((median(stack) / median(runc)).toFixed(2)),
  stackRunMedianMs: Number(median(cli).toFixed(1)),
  stackRunRatio: Number((median(cli) / median(runc)).toFixed(2)),
  stackRunCpuMedianMs: Number(median(cliCpu).toFixed(1)),
  stackRunWarmMedianMs: Number(median(warm).toFixed(1)),
  stackRunWarmRatio: Number((median(warm) / median(runc)).toFixed(2)),
  stackRunWarmClientCpuMedianMs: Number(median(warmCpu).toFixed(1)),
  stackRunWarmSupervisorCpuMedianMs: Number(median(supervisorCpu).toFixed(1)),
  ...(baselineBin ? { baselineRunMedianMs: Number(median(baseline).toFixed(1)), baselineRunRatio: Number((median(baseline) / median(runc)).toFixed(2)), baselineRunCpuMedianMs: Number(median(baselineCpu).toFixed(1)) } : {}),
  loadAverageAtStart: loadAtStart,
  loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
  goalRatio: 3,
};
if (asJson) console.log(JSON.stringify(result));
else {
  console.log(`runs: ${runs}`);
  console.log(`stack runtime API (create+start+wait+remove): median ${result.stackApiMedianMs} ms`);
  console.log(`bare runc run, same rootfs and config:        median ${result.bareRuncMedianMs} ms`);
  console.log(`ratio: ${result.ratio}x (goal <= ${result.goalRatio}x)`);
  console.log(`stack run --rm -T bench true, project up (warm): median ${result.stackRunWarmMedianMs} ms, ${result.stackRunWarmRatio}x bare runc (CPU: client ${result.stackRunWarmClientCpuMedianMs} ms + supervisor and runc ${result.stackRunWarmSupervisorCpuMedianMs} ms)`);
  console.log(`stack run --rm -T bench true, nothing up (cold): median ${result.stackRunMedianMs} ms, ${result.stackRunRatio}x bare runc (CPU ${result.stackRunCpuMedianMs} ms)`);
  if (baselineBin) console.log(`baseline ${baselineBin}, nothing up: median ${result.baselineRunMedianMs} ms, ${result.baselineRunRatio}x bare runc (CPU ${result.baselineRunCpuMedianMs} ms)`);
  console.log(`load average at the start: ${result.loadAverageAtStart}, at the end: ${result.loadAverage}`);
}
