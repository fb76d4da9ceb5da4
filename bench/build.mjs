// Build speed: a 10-step Dockerfile that copies 2,000 small files, built
// cold (fresh state dir), rebuilt fully cached, and rebuilt with one file
// changed. Times are stack's own (in-process buildImage(), after Node and
// the modules are loaded) and the CLI's wall time for the cached rebuild
// minus a bare `node -e 0` (the median of 5 pairs per run, interleaved, as
// the host is shared). The load average is printed beside the figures.
// Root; run `npm run build` first.
//
//   node bench/build.mjs [--runs N]
//   STACK_BENCH_DOCKER=1 node bench/build.mjs   also installs docker.io (apt)
//                                               and times `docker build`
//                                               (legacy and BuildKit) on the
//                                               same context.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buildImage } from "../dist/image/build/index.js";
import { ImageStore } from "../dist/image/store/index.js";
import { ensureDocker, median } from "./lib.mjs";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 5;
const root = mkdtempSync(join(tmpdir(), "stack-bench-build-"));

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
const cli = [];
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
    const time = (argv) => {
      const s = performance.now();
      const p = spawnSync(process.execPath, argv, { cwd: proj, env, encoding: "utf8" });
      if (p.status !== 0) throw new Error(p.stderr);
      return performance.now() - s;
    };
    const beyond = [];
    for (let k = 0; k < 5; k++) {
      const bare = time(["-e", "0"]);
      beyond.push(time([new URL("../bin/stack", import.meta.url).pathname, "build", "-q"]) - bare);
    }
    cli.push(median(beyond));
  }
  const f = (xs) => `${median(xs).toFixed(0)} ms`;
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  console.log(`stack build (${runs} runs, medians): cold ${f(cold)}, cached ${f(cached)}, one file changed ${f(changed)}; CLI cached rebuild beyond node start ${f(cli)}`);
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
