// bench/up: `stack up -d` then `stack down` of a 4-service and a 20-service
// busybox stack (each service a `sleep` behind tini, on the default network),
// median of N runs, in fresh temp state dirs; and `stack ps` of a project with
// 100 containers. With STACK_BENCH_DOCKER=1 the same files run through
// docker-compose in the same run, interleaved, each `up` after a 1 s pause
// (see quiet below; the bench installs the Debian packages docker.io and
// docker-compose, and imports the busybox rootfs into Docker); the ratios
// are printed. Next to each median wall time, the median
// CPU time (user + system) of the command and of everything it starts, from a
// cpuacct cgroup of its own (cgroup v1 or hybrid hosts): "cpu" until the
// command returns, "cpu+1.5s" 1.5 s later — `up -d` launches the supervisor
// as it ends, so its boot lands after the command's return. What runc moves
// into the containers' own cgroups (most of `runc init`, then the
// containers) leaves that group: "ctrCpu" is the project's cgroups'
// (stack/<project>) CPU when `up -d` returns. On a shared machine CPU time
// moves far less than wall time. Needs root; build first (npm run build).
//
//   node bench/up.mjs [--runs N] [--ps-containers N] [--json]
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDocker, median, numberOptions } from "./lib.mjs";

const args = process.argv.slice(2);
const opt = numberOptions(args);
const runs = opt("--runs", 5);
const psContainers = opt("--ps-containers", 100);
const asJson = args.includes("--json");
const withDocker = process.env.STACK_BENCH_DOCKER === "1";
if (process.getuid?.() !== 0) {
  console.error("bench/up: needs root");
  process.exit(2);
}
const stack = fileURLToPath(new URL("../bin/stack", import.meta.url));

const base = mkdtempSync("/tmp/stack-bench-up-");
const env = { ...process.env, STACK_STATE_DIR: join(base, "state"), STACK_RUN_DIR: join(base, "run"), STACK_PROJECT_NAME: "benchup" };

function run(cmd, argv, options = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { encoding: "utf8", env, ...options });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  return ms;
}

const cpuacct = existsSync("/sys/fs/cgroup/cpuacct/cgroup.procs") ? "/sys/fs/cgroup/cpuacct" : undefined;
let groups = 0;
const usageMs = (group) => Number(readFileSync(join(group, "cpuacct.usage"), "utf8")) / 1e6;

const groupUsage = (group) => (group && existsSync(group) ? usageMs(group) : 0);

/** The cpuacct group runc puts the bench project's containers in (stack/<project>). */
const projectCgroup = cpuacct ? join(cpuacct, "stack", env.STACK_PROJECT_NAME) : undefined;

/** run() in a cpuacct group of its own: { ms, cpu, cpuSettled, ctrCpu } (CPU undefined without cpuacct); ctrCpu: what `extraGroup` used until the command returned. */
function runCounted(cmd, argv, options = {}, settleMs = 0, extraGroup) {
  if (!cpuacct) return { ms: run(cmd, argv, options) };
  const group = join(cpuacct, `stack-bench-up-${process.pid}-${groups++}`);
  mkdirSync(group);
  const ctrBefore = groupUsage(extraGroup);
  try {
    // The shell joins the group and becomes the command: all it starts (detached or not) is counted.
    const ms = run("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', group, cmd, ...argv], options);
    const cpu = usageMs(group);
    const ctrCpu = groupUsage(extraGroup) - ctrBefore;
    if (settleMs > 0) spawnSync("sleep", [String(settleMs / 1000)]);
    return { ms, cpu, cpuSettled: usageMs(group), ctrCpu };
  } finally {
    // What still runs (the supervisor, monitors, containers) goes back to the root group.
    for (let pids = procsOf(group); pids.length > 0; pids = procsOf(group)) {
      for (const pid of pids) {
        try {
          writeFileSync(join(cpuacct, "cgroup.procs"), pid);
        } catch {
          // it ended meanwhile
        }
      }
    }
    for (let i = 0; ; i++) {
      try {
        rmdirSync(group);
        break;
      } catch (e) {
        if (i > 200) throw e;
        spawnSync("sleep", ["0.01"]); // a moved process is still leaving it
      }
    }
  }
}

/**
 * A pause before each timed `up`, the same for both tools: what the other
 * tool's `down` left running (dockerd and containerd tidy up after
 * `docker-compose down` returns: ~40 ms of CPU during the next stack `up`,
 * measured) has finished before the next one is timed.
 */
function quiet() {
  spawnSync("sleep", ["1"]);
}

function procsOf(group) {
  return readFileSync(join(group, "cgroup.procs"), "utf8").split("\n").filter(Boolean);
}

// A busybox rootfs with tini-less sleep: `init: true` puts stack's tini (and Docker's) in front.
const rootfs = join(base, "rootfs");
for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp"]) mkdirSync(join(rootfs, d), { recursive: true });
copyFileSync("/bin/busybox", join(rootfs, "bin", "busybox"));
for (const a of ["sh", "sleep", "true"]) symlinkSync("busybox", join(rootfs, "bin", a));
writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\n");
execFileSync("tar", ["-C", rootfs, "-cf", join(base, "rootfs.tar"), "."]);
run(stack, ["image", "import", "-c", 'CMD ["sh"]', join(base, "rootfs.tar"), "bench/busybox:1"]);

function stackFile(dir, services) {
  mkdirSync(dir, { recursive: true });
  const body = Array.from({ length: services }, (_, i) => `  s${String(i + 1).padStart(2, "0")}:\n    image: bench/busybox:1\n    init: true\n    command: sleep 3600\n`).join("");
  writeFileSync(join(dir, "compose.yaml"), `services:\n${body}`);
  return dir;
}

let docker;
let dockerEngine;
if (withDocker) {
  dockerEngine = await ensureDocker({ compose: true });
  execFileSync(dockerEngine.docker, ["import", "-c", 'CMD ["sh"]', join(base, "rootfs.tar"), "bench/busybox:1"]);
  docker = (dir, argv) => run("docker-compose", ["-p", "benchupdocker", ...argv], { cwd: dir });
}

const results = {};
for (const size of [4, 20]) {
  const dir = stackFile(join(base, `s${size}`), size);
  const r = { up: [], down: [], upCpu: [], upCpuSettled: [], ctrCpu: [], downCpu: [], dockerUp: [], dockerDown: [] };
  for (let i = 0; i < runs; i++) {
    quiet();
    const up = runCounted(stack, ["--progress", "quiet", "up", "-d"], { cwd: dir }, 1500, projectCgroup);
    const down = runCounted(stack, ["--progress", "quiet", "down", "-t", "10"], { cwd: dir });
    r.up.push(up.ms);
    r.down.push(down.ms);
    if (up.cpu !== undefined) {
      r.upCpu.push(up.cpu);
      r.upCpuSettled.push(up.cpuSettled);
      r.ctrCpu.push(up.ctrCpu);
      r.downCpu.push(down.cpu);
    }
    if (docker) {
      quiet();
      r.dockerUp.push(docker(dir, ["up", "-d"]));
      r.dockerDown.push(docker(dir, ["down", "-t", "10"]));
    }
  }
  results[`${size} services`] = {
    up: median(r.up),
    ...(r.upCpu.length > 0 ? { upCpu: median(r.upCpu), "upCpu+1.5s": median(r.upCpuSettled), ctrCpu: median(r.ctrCpu) } : {}),
    down: median(r.down),
    ...(r.downCpu.length > 0 ? { downCpu: median(r.downCpu) } : {}),
    ...(docker ? { dockerUp: median(r.dockerUp), dockerDown: median(r.dockerDown), upRatio: median(r.dockerUp) / median(r.up), downRatio: median(r.dockerDown) / median(r.down) } : {}),
  };
}

// ps of one project with many containers.
{
  const dir = stackFile(join(base, "ps"), 1);
  run(stack, ["--progress", "quiet", "up", "-d", "--scale", `s01=${psContainers}`], { cwd: dir });
  const ps = [];
  const bare = [];
  for (let i = 0; i < Math.max(runs, 5); i++) {
    ps.push(run(stack, ["ps"], { cwd: dir }));
    bare.push(run(process.execPath, ["-e", "0"]));
  }
  run(stack, ["--progress", "quiet", "down", "-t", "10"], { cwd: dir });
  results[`ps, ${psContainers} containers`] = { ps: median(ps), nodeStart: median(bare) };
}

await dockerEngine?.stop();
rmSync(base, { recursive: true, force: true });
const load = execFileSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).split(" ").slice(0, 3).join(" ");
if (asJson) console.log(JSON.stringify({ runs, load, results }, null, 2));
else {
  console.log(`bench/up: medians of ${runs} runs (load average ${load})`);
  for (const [k, v] of Object.entries(results)) console.log(`  ${k}: ${Object.entries(v).map(([a, b]) => `${a} ${a.includes("Ratio") ? b.toFixed(2) + "x" : Math.round(b) + " ms"}`).join(", ")}`);
}
