// bench/config: wall time of `stack -f F config` on a generated 300-service
// stack (Node start-up included; goal < 300 ms median), and the time to
// refuse a YAML file of 10^6 aliases (goal < 1 s). Build first: npm run build.
//
//   node bench/config.mjs [--runs N] [--services N] [--baseline CHECKOUT] [--json]
//
// --baseline CHECKOUT (another checkout or git worktree, built) times its
// bin/stack too, `config` and `config -q`, interleaved with this one's: on a
// shared machine only figures of the same run compare.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateAliasFlood, generateStack } from "./generate-stack.mjs";
import { median, numberOptions } from "./lib.mjs";

const args = process.argv.slice(2);
const option = numberOptions(args);
const runs = option("--runs", 15);
const services = option("--services", 300);
const asJson = args.includes("--json");
const baselineAt = args.indexOf("--baseline");
const baselineBin = baselineAt >= 0 ? join(args[baselineAt + 1] ?? "", "bin", "stack") : undefined;
if (baselineBin !== undefined && !existsSync(baselineBin)) {
  console.error(`bench/config: --baseline: ${baselineBin} not found (give a built checkout)`);
  process.exit(2);
}

const bin = fileURLToPath(new URL("../bin/stack", import.meta.url));
if (!existsSync(fileURLToPath(new URL("../dist/cli/main.js", import.meta.url)))) {
  console.error("bench/config: dist/ is missing; run `npm run build` first");
  process.exit(2);
}
// bin/stack runs the bundle (dist/bundle/) when it is not older than dist/;
// the same command without it (STACK_NO_BUNDLE=1) is timed beside it.
const bundleFile = fileURLToPath(new URL("../dist/bundle/main.js", import.meta.url));
const tscFile = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const bundled = existsSync(bundleFile) && statSync(bundleFile).mtimeMs >= statSync(tscFile).mtimeMs;
if (!bundled) console.error("bench/config: dist/bundle/ is missing or older than dist/ (tsc ran since); run `npm run build` to time the bundled CLI");


// CPU time (user + sys, via /usr/bin/time) is reported next to wall time:
// on a shared machine it moves much less than wall time does. So are minor
// page faults (first touches of fresh memory), which cost ~15-30 µs each on
// the development VM: they are much of what `config` costs beyond its
// instructions.
/** The 1-, 5- and 15-minute load averages: the machine is shared, figures mean little without them. */
function loadAverage() {
  return existsSync("/proc/loadavg") ? readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ") : "unknown";
}

const TIME = "/usr/bin/time";
const hasTime = existsSync(TIME);

function timeRun(argv, cwd, extraEnv = {}) {
  const cpuFile = join(cwd, ".cpu");
  const [cmd, cmdArgs] = hasTime ? [TIME, ["-o", cpuFile, "-f", "%U %S %R", process.execPath, ...argv]] : [process.execPath, argv];
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, cmdArgs, { cwd, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...extraEnv } });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  let cpuMs = NaN;
  let faults = NaN;
  if (hasTime) {
    const [user, sys, minor] = readFileSync(cpuFile, "utf8").trim().split("\n").pop().split(" ").map(Number);
    cpuMs = (user + sys) * 1000;
    faults = minor;
  }
  return { ms, cpuMs, faults, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), "stack-bench-config-"));
try {
  const stackFile = join(dir, "compose.yaml");
  writeFileSync(stackFile, generateStack(services));
  const floodFile = join(dir, "flood.yaml");
  writeFileSync(floodFile, generateAliasFlood(1_000_000));


  const first = timeRun([bin, "-f", stackFile, "config"], dir);
  if (first.status !== 0) {
    console.error(`bench/config: stack config failed (exit ${first.status}):\n${first.stderr}`);
    process.exit(1);
  }
  // The whole output must come through the pipe (it once stopped at 64-220 KB).
  const outFile = join(dir, "config.out");
  timeRun([bin, "-f", stackFile, "config", "-o", outFile], dir);
  const whole = readFileSync(outFile, "utf8");
  if (first.stdout !== whole) {
    console.error(`bench/config: stdout (${first.stdout.length} bytes) differs from -o (${whole.length} bytes)`);
    process.exit(1);
  }
  const loadBefore = loadAverage();
  // Interleaved, one of each per round, so that a change of load on the
  // shared machine weighs on every figure alike. The peer: bare Node
  // start-up, the floor under any CLI.
  const node = [];
  const config = [];
  const quiet = [];
  const unbundled = [];
  const baseConfig = [];
  const baseQuiet = [];
  for (let i = 0; i < runs; i++) {
    node.push(timeRun(["-e", ""], dir));
    config.push(timeRun([bin, "-f", stackFile, "config"], dir));
    if (baselineBin) baseConfig.push(timeRun([baselineBin, "-f", stackFile, "config"], dir));
    quiet.push(timeRun([bin, "-f", stackFile, "config", "-q"], dir));
    if (baselineBin) baseQuiet.push(timeRun([baselineBin, "-f", stackFile, "config", "-q"], dir));
    unbundled.push(timeRun([bin, "-f", stackFile, "config"], dir, { STACK_NO_BUNDLE: "1" }));
  }
  if (baselineBin && baseConfig[0].stdout !== first.stdout) {
    console.error("bench/config: the baseline prints another config for the bench file");
    process.exit(1);
  }

  const floods = [];
  let floodError = "";
  for (let i = 0; i < 3; i++) {
    const r = timeRun([bin, "-f", floodFile, "config", "-q"], dir);
    if (r.status === 0) {
      console.error("bench/config: the alias flood was accepted");
      process.exit(1);
    }
    floodError = r.stderr.split("\n")[0];
    floods.push(r);
  }

  const loadAfter = loadAverage();
  const wall = (xs) => Math.round(median(xs.map((x) => x.ms)));
  const cpu = (xs) => Math.round(median(xs.map((x) => x.cpuMs)));
  const faults = (xs) => Math.round(median(xs.map((x) => x.faults)));
  const result = {
    services,
    runs,
    node_startup_median_ms: wall(node),
    node_startup_cpu_median_ms: cpu(node),
    node_startup_faults_median: faults(node),
    config_median_ms: wall(config),
    config_cpu_median_ms: cpu(config),
    config_faults_median: faults(config),
    bundled,
    config_quiet_median_ms: wall(quiet),
    config_quiet_cpu_median_ms: cpu(quiet),
    config_quiet_faults_median: faults(quiet),
    ...(baselineBin
      ? {
          baseline: baselineBin,
          baseline_config_median_ms: wall(baseConfig),
          baseline_config_cpu_median_ms: cpu(baseConfig),
          baseline_config_faults_median: faults(baseConfig),
          baseline_config_quiet_median_ms: wall(baseQuiet),
          baseline_config_quiet_cpu_median_ms: cpu(baseQuiet),
          baseline_config_quiet_faults_median: faults(baseQuiet),
        }
      : {}),
    config_unbundled_median_ms: wall(unbundled),
    config_unbundled_cpu_median_ms: cpu(unbundled),
    config_output_bytes: first.stdout.length,
    alias_flood_refusal_median_ms: wall(floods),
    alias_flood_refusal_cpu_median_ms: cpu(floods),
    alias_flood_error: floodError,
    load_average_before: loadBefore,
    load_average_after: loadAfter,
  };
  if (asJson) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    console.log(`stack config, ${services} services, ${runs} runs (Node start-up included); load average ${loadBefore} -> ${loadAfter}`);
    const f = (n) => String(n).padStart(6);
    console.log("                         wall median   cpu median (user+sys)   minor faults");
    console.log(`  node -e ''             ${f(result.node_startup_median_ms)} ms   ${f(result.node_startup_cpu_median_ms)} ms   ${f(result.node_startup_faults_median)}   (peer: bare start-up)`);
    console.log(`  stack config${bundled ? "          " : " (stale!)"} ${f(result.config_median_ms)} ms   ${f(result.config_cpu_median_ms)} ms   ${f(result.config_faults_median)}   (goal < 300 ms wall; ${result.config_output_bytes} bytes out)`);
    if (baselineBin) console.log(`    baseline             ${f(result.baseline_config_median_ms)} ms   ${f(result.baseline_config_cpu_median_ms)} ms   ${f(result.baseline_config_faults_median)}   (${baselineBin})`);
    console.log(`  stack config -q        ${f(result.config_quiet_median_ms)} ms   ${f(result.config_quiet_cpu_median_ms)} ms   ${f(result.config_quiet_faults_median)}`);
    if (baselineBin) console.log(`    baseline             ${f(result.baseline_config_quiet_median_ms)} ms   ${f(result.baseline_config_quiet_cpu_median_ms)} ms   ${f(result.baseline_config_quiet_faults_median)}`);
    console.log(`  config, no bundle     ${String(result.config_unbundled_median_ms).padStart(6)} ms   ${String(result.config_unbundled_cpu_median_ms).padStart(6)} ms   (STACK_NO_BUNDLE=1: the ESM files tsc emitted)`);
    console.log(`  10^6 aliases refused   ${String(result.alias_flood_refusal_median_ms).padStart(6)} ms   ${String(result.alias_flood_refusal_cpu_median_ms).padStart(6)} ms   (goal < 1000 ms wall)`);
    console.log(`    ${result.alias_flood_error}`);
    console.log(`  ratios to node -e '': config ${(result.config_median_ms / result.node_startup_median_ms).toFixed(1)}x, config -q ${(result.config_quiet_median_ms / result.node_startup_median_ms).toFixed(1)}x (wall)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
