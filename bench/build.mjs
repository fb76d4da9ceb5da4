// Build speed: a 10-step Dockerfile that copies 2,000 small files, built
// cold (fresh state dir), rebuilt fully cached, and rebuilt with one file
// changed. Times are stack's own (in-process buildImage(), after Node and
// the modules are loaded) and the CLI's for the cached rebuild minus a bare
// `node -e 0`, in wall time and in CPU time (user+sys, through /usr/bin/time
// when it is there: on a shared host CPU time moves less than wall time),
// the median of 5 interleaved pairs per run. The load average is printed
// beside the figures. Root; run `npm run build` first.
//
//   node bench/build.mjs [--runs N] [--baseline PATH/bin/stack]
//       --baseline: another build of stack (a checkout of an earlier
//       commit, built) timed the same way, interleaved, on the same state:
//       a before/after from one run.
//   STACK_BENCH_DOCKER=1 node bench/build.mjs   also installs docker.io (apt)
//                                               and times `docker build`
//                                               (legacy and BuildKit) on the
//                                               same context.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buildImage } from "../dist/image/build/index.js";
import { ImageStore } from "../dist/image/store/index.js";
import { ensureDocker, median } from "./lib.mjs";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5;
const baseline = process.argv.includes("--baseline") ? process.argv[process.argv.indexOf("--baseline") + 1] : undefined;
if (baseline !== undefined && !existsSync(baseline)) throw new Error(`--baseline ${baseline}: no such file`);
const root = mkdtempSync(join(tmpdir(), "stack-bench-build-"));
const timeBin = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

/** Runs `node argv…`: its wall time, and its CPU time (user+sys, ms) when /usr/bin/time can tell. */
function timedNode(argv, options) {
  const cpuFile = join(root, "cpu.txt");
  const [file, args] = timeBin ? [timeBin, ["-f", "%U %S", "-o", cpuFile, process.execPath, ...argv]] : [process.execPath, argv];
  const t0 = performance.now();
  const p = spawnSync(file, args, { encoding: "utf8", ...options });
  const wall = performance.now() - t0;
  if (p.status !== 0) throw new Error(`node ${argv.join(" ")} failed: ${p.stderr}`);
  if (!timeBin) return { wall };
  const [user, sys] = readFileSync(cpuFile, "utf8").trim().split(/\s+/).slice(-2).map(Number);
  return { wall, cpu: (user + sys) * 1000 };
}

function makeContext() {
  const ctx = join(root, "ctx");
  mkdirSync(join(ctx, "files"), { recursive: true });
  for (let i = 0; i < 2000; i++) {
    const d = join(ctx, "files", `d${i % 20}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.txt`), `file ${i}\n`);
  }
  writeFileSync(join(ctx, "one.txt"), "one\n");
  writeFileSync(
    join(ctx, "Dockerfile"),
    `FROM stack-bench/busybox:latest
ENV APP=/app
WORKDIR /app
COPY files/ /app/files/
RUN ls -R /app/files | wc -l > /app/count
LABEL bench=build
ARG VERSION=1
COPY one.txt /app/
RUN cat /app/one.txt > /app/one.copy
CMD ["sh"]
`,
  );
  return ctx;
}

async function importBusybox(stateDir) {
  const rootfs = join(root, "rootfs");
  rmSync(rootfs, { recursive: true, force: true });
  for (const d of ["bin", "etc", "tmp", "dev", "proc", "sys"]) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
  chmodSync(join(rootfs, "bin/busybox"), 0o755);
  for (const a of ["sh", "ls", "wc", "cat", "echo", "true"]) symlinkSync("busybox", join(rootfs, "bin", a));
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\n");
  const tar = execFileSync("tar", ["-C", rootfs, "-cf", "-", "."], { maxBuffer: 64 << 20 });
  await new ImageStore(stateDir).importRootfs(Readable.from(tar), "stack-bench/busybox:latest");
}

const ctx = makeContext();
const request = { context: ctx, dockerfile: join(ctx, "Dockerfile"), args: {}, labels: {}, network: "none", extraHosts: [], noCache: false, pull: false, tags: ["stack-bench/app:latest"], additionalContexts: {}, secrets: [] };
const cold = [];
const cached = [];
const changed = [];
// CLI cached rebuilds beyond a bare node start, per run: wall and CPU, for this build and the baseline.
const cli = { wall: [], cpu: [], baseWall: [], baseCpu: [] };
let stateDir;
const runDir = join(root, "run");
try {
  for (let r = 0; r < runs; r++) {
    stateDir = join(root, `state-${r}`);
    await importBusybox(stateDir);
    let t = performance.now();
    await buildImage({ stateDir, runDir }, request);
    cold.push(performance.now() - t);
    t = performance.now();
    const events = [];
    await buildImage({ stateDir, runDir }, request, (e) => events.push(e));
    cached.push(performance.now() - t);
    if (!events.some((e) => e.status === "cached")) throw new Error("the rebuild was not cached");
    writeFileSync(join(ctx, "files", "d7", "f7.txt"), `changed ${r}\n`);
    t = performance.now();
    await buildImage({ stateDir, runDir }, request);
    changed.push(performance.now() - t);
    // The CLI, cached, against a bare node start.
    const proj = join(root, "proj");
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, "compose.yaml"), `services:\n  app:\n    image: stack-bench/app:latest\n    build:\n      context: ${ctx}\n      network: none\n`);
    const env = { ...process.env, STACK_STATE_DIR: stateDir, STACK_RUN_DIR: runDir };
    // The baseline gets a copy of the state: its build cache may be of another format (a memo of one is
    // no memo to the other, and each would rewrite it for itself on every run).
    const baseEnv = { ...env, STACK_STATE_DIR: `${stateDir}-baseline` };
    if (baseline !== undefined) execFileSync("cp", ["-a", stateDir, baseEnv.STACK_STATE_DIR]);
    // As a user's files are: older than a second (files changed within the last second are always read again).
    await new Promise((r) => setTimeout(r, 1100));
    // One untimed run each, so both caches are in their own format before the timed runs.
    timedNode([new URL("../bin/stack", import.meta.url).pathname, "build", "-q"], { cwd: proj, env });
    if (baseline !== undefined) timedNode([baseline, "build", "-q"], { cwd: proj, env: baseEnv });
    const beyond = { wall: [], cpu: [], baseWall: [], baseCpu: [] };
    for (let k = 0; k < 5; k++) {
      const bare = timedNode(["-e", "0"], { cwd: proj, env });
      const own = timedNode([new URL("../bin/stack", import.meta.url).pathname, "build", "-q"], { cwd: proj, env });
      beyond.wall.push(own.wall - bare.wall);
      if (own.cpu !== undefined) beyond.cpu.push(own.cpu - bare.cpu);
      if (baseline !== undefined) {
        const base = timedNode([baseline, "build", "-q"], { cwd: proj, env: baseEnv });
        beyond.baseWall.push(base.wall - bare.wall);
        if (base.cpu !== undefined) beyond.baseCpu.push(base.cpu - bare.cpu);
      }
    }
    for (const k of Object.keys(cli)) if (beyond[k].length > 0) cli[k].push(median(beyond[k]));
  }
  const f = (xs) => `${median(xs).toFixed(0)} ms`;
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const cpu = (xs) => (xs.length > 0 ? `, CPU ${f(xs)}` : "");
  console.log(`stack build (${runs} runs, medians): cold ${f(cold)}, cached ${f(cached)}, one file changed ${f(changed)}; CLI cached rebuild beyond node start: wall ${f(cli.wall)}${cpu(cli.cpu)}`);
  if (baseline !== undefined) console.log(`baseline ${baseline}, same runs: CLI cached rebuild beyond node start: wall ${f(cli.baseWall)}${cpu(cli.baseCpu)}`);
  if (process.env.STACK_BENCH_DOCKER === "1") {
    // The peer, side by side: `docker build` (legacy and BuildKit) against
    // stack's CLI (`stack build`, wall time, Node start included), each run
    // cold (no cache), cached, and with one file changed.
    const { docker, stop } = await ensureDocker();
    try {
      const tar = execFileSync("tar", ["-C", join(root, "rootfs"), "-cf", "-", "."], { maxBuffer: 64 << 20 });
      execFileSync(docker, ["import", "-", "stack-bench/busybox:latest"], { input: tar });
      const proj = join(root, "proj");
      const wall = (cmd, argv, env) => {
        const s = performance.now();
        execFileSync(cmd, argv, { cwd: proj, env: { ...process.env, ...env }, stdio: "pipe" });
        return performance.now() - s;
      };
      const peers = { "stack build": { cold: [], cached: [], changed: [] }, "docker build (legacy)": { cold: [], cached: [], changed: [] }, "docker build (BuildKit)": { cold: [], cached: [], changed: [] } };
      for (let r = 0; r < runs; r++) {
        const cliState = join(root, `cli-state-${r}`);
        await importBusybox(cliState);
        const cliEnv = { STACK_STATE_DIR: cliState, STACK_RUN_DIR: runDir };
        const stackCli = new URL("../bin/stack", import.meta.url).pathname;
        const timeStack = () => wall(process.execPath, [stackCli, "build", "-q"], cliEnv);
        const timeDocker = (buildkit, extra) => wall(docker, ["build", "-q", "--network", "none", ...extra, "-t", "stack-bench/app:docker", ctx], { DOCKER_BUILDKIT: buildkit });
        const one = (name, cold, cached) => {
          peers[name].cold.push(cold());
          peers[name].cached.push(cached());
          writeFileSync(join(ctx, "files", "d7", "f7.txt"), `${name} ${r} ${Date.now()}\n`);
          peers[name].changed.push(cached());
        };
        one("stack build", timeStack, timeStack);
        one("docker build (legacy)", () => timeDocker("0", ["--no-cache"]), () => timeDocker("0", []));
        one("docker build (BuildKit)", () => timeDocker("1", ["--no-cache"]), () => timeDocker("1", []));
        rmSync(cliState, { recursive: true, force: true });
      }
      const m = (name, k) => median(peers[name][k]);
      console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
      for (const name of Object.keys(peers)) console.log(`${name} (CLI wall, ${runs} runs, medians): cold ${m(name, "cold").toFixed(0)} ms, cached ${m(name, "cached").toFixed(0)} ms, one file changed ${m(name, "changed").toFixed(0)} ms`);
      for (const name of ["docker build (legacy)", "docker build (BuildKit)"]) {
        console.log(`${name}/stack build: cold ${(m(name, "cold") / m("stack build", "cold")).toFixed(2)}x, cached ${(m(name, "cached") / m("stack build", "cached")).toFixed(2)}x, one file changed ${(m(name, "changed") / m("stack build", "changed")).toFixed(2)}x`);
      }
      execFileSync(docker, ["image", "rm", "-f", "stack-bench/app:docker", "stack-bench/busybox:latest"], { stdio: "ignore" });
      execFileSync(docker, ["builder", "prune", "-af"], { stdio: "ignore" });
    } finally {
      await stop();
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
