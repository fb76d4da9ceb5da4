// The quickstart's start and stop: `stack up -d --wait` and `stack down` on
// examples/quickstart once its images are built (medians of --runs N):
//   - up with an empty database volume (after `down -v`: initdb runs),
//   - up with the volume kept (after `down`),
//   - down, and down -v.
// The state dir is kept in .bench-cache/quickstart so the images are built
// once; the base image comes from scripts/make-base-image.sh. Root; run
// `npm run build` first.
//
//   node bench/quickstart.mjs [--runs N]
//   STACK_BENCH_DOCKER=1 node bench/quickstart.mjs   also installs docker.io and
//       docker-compose (apt), loads the same images into Docker (`stack image
//       save` + `docker load`) and times `docker-compose up -d` until every
//       container is healthy (or has exited 0, for migrate) and `down`.
//       Docker changes the host's iptables FORWARD policy to DROP: do not run
//       it while others run tests on this machine.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { ensureDocker, median } from "./lib.mjs";

const repo = fileURLToPath(new URL("..", import.meta.url));
const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 3;
const home = join(repo, ".bench-cache", "quickstart");
const compose = join(repo, "examples", "quickstart", "compose.yaml");
const project = "qsbench";

const port = await new Promise((resolve) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const env = {
  ...process.env,
  STACK_STATE_DIR: join(home, "state"),
  STACK_RUN_DIR: join(home, "run"),
  APP_PORT: String(port),
};
mkdirSync(home, { recursive: true });

function stack(args, { quiet = true } = {}) {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(repo, "bin", "stack"), "-f", compose, "-p", project, ...args], { env, encoding: "utf8", stdio: quiet ? "pipe" : "inherit", maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`stack ${args.join(" ")} failed (exit ${r.status}):\n${(r.stderr ?? "").slice(-3000)}`);
  return ms;
}

async function pageWorks() {
  const res = await fetch(`http://127.0.0.1:${port}/status.json`, { signal: AbortSignal.timeout(20_000) });
  const body = await res.json();
  if (!body.ok) throw new Error(`the page does not work: ${JSON.stringify(body)}`);
  return body;
}

// Base image and images, timed once (cached after the first bench run).
let t = Date.now();
execFileSync("bash", [join(repo, "scripts", "make-base-image.sh")], { env, stdio: "inherit" });
console.log(`base image ready in ${Date.now() - t} ms`);
t = Date.now();
stack(["build"], { quiet: false });
console.log(`images built in ${Date.now() - t} ms`);
stack(["down", "-v", "-t", "0"]);

const upEmpty = [];
const upKept = [];
const down = [];
const downV = [];
for (let i = 0; i < runs; i++) {
  upEmpty.push(stack(["up", "-d", "--wait"]));
  await pageWorks();
  down.push(stack(["down"]));
  upKept.push(stack(["up", "-d", "--wait"]));
  await pageWorks();
  downV.push(stack(["down", "-v"]));
  console.log(`run ${i + 1}: up (empty volume) ${upEmpty[i].toFixed(0)} ms, down ${down[i].toFixed(0)} ms, up (volume kept) ${upKept[i].toFixed(0)} ms, down -v ${downV[i].toFixed(0)} ms`);
}
const results = {
  "stack up -d --wait (empty volume)": median(upEmpty),
  "stack up -d --wait (volume kept)": median(upKept),
  "stack down": median(down),
  "stack down -v": median(downV),
};
for (const [k, v] of Object.entries(results)) console.log(`${k}: median ${v.toFixed(0)} ms of ${runs}`);

if (process.env.STACK_BENCH_DOCKER === "1") await benchDocker(results);

async function benchDocker(stackResults) {
  const { docker, stop } = await ensureDocker({ compose: true });
  try {
    const images = ["quickstart/app:dev", "quickstart/db:dev", "quickstart/cache:dev", "quickstart/queue:dev"];
    const archive = join(home, "images.tar");
    t = Date.now();
    execFileSync(process.execPath, [join(repo, "bin", "stack"), "image", "save", "-o", archive, ...images], { env, stdio: "inherit" });
    execFileSync(docker, ["load", "-q", "-i", archive], { stdio: "inherit" });
    rmSync(archive, { force: true });
    console.log(`images loaded into Docker in ${Date.now() - t} ms`);

    // docker-compose 1.29 (Debian's) knows neither develop: nor start_interval:
    // the same stack without them, probing every 250 ms throughout (what
    // start_interval gives stack), images used as loaded (no build:).
    const model = YAML.parse(readFileSync(compose, "utf8"), { merge: true });
    for (const s of Object.values(model.services)) {
      delete s.develop;
      delete s.build;
      if (s.healthcheck) {
        delete s.healthcheck.start_interval;
        s.healthcheck.interval = "250ms";
      }
    }
    delete model.name;
    for (const k of Object.keys(model)) if (k.startsWith("x-")) delete model[k];
    const dir = join(home, "docker");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "docker-compose.yaml");
    writeFileSync(file, YAML.stringify(model));
    const dc = (args) => {
      const started = process.hrtime.bigint();
      execFileSync("docker-compose", ["-f", file, "-p", `${project}docker`, ...args], { stdio: "pipe", env: { ...process.env, APP_PORT: String(port) } });
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    // `docker-compose up -d` returns once started; --wait's meaning is polled here.
    const upWait = async () => {
      const started = process.hrtime.bigint();
      dc(["up", "-d"]);
      for (;;) {
        const ids = execFileSync("docker-compose", ["-f", file, "-p", `${project}docker`, "ps", "-q"], { encoding: "utf8" }).split("\n").filter(Boolean);
        const states = ids.map((id) => execFileSync(docker, ["inspect", "-f", "{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", id], { encoding: "utf8" }).trim());
        const ready = states.length === 6 && states.every((s) => {
          const [, status, code, health] = s.split(" ");
          return health ? health === "healthy" : status === "running" || (status === "exited" && code === "0");
        });
        if (ready) return Number(process.hrtime.bigint() - started) / 1e6;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    dc(["down", "-v", "-t", "0"]);
    const d = { upEmpty: [], upKept: [], down: [], downV: [] };
    for (let i = 0; i < runs; i++) {
      d.upEmpty.push(await upWait());
      await pageWorks();
      d.down.push(dc(["down"]));
      d.upKept.push(await upWait());
      await pageWorks();
      d.downV.push(dc(["down", "-v"]));
      console.log(`docker run ${i + 1}: up (empty volume) ${d.upEmpty[i].toFixed(0)} ms, down ${d.down[i].toFixed(0)} ms, up (volume kept) ${d.upKept[i].toFixed(0)} ms, down -v ${d.downV[i].toFixed(0)} ms`);
    }
    const pairs = [
      ["up -d --wait (empty volume)", stackResults["stack up -d --wait (empty volume)"], median(d.upEmpty)],
      ["up -d --wait (volume kept)", stackResults["stack up -d --wait (volume kept)"], median(d.upKept)],
      ["down", stackResults["stack down"], median(d.down)],
      ["down -v", stackResults["stack down -v"], median(d.downV)],
    ];
    for (const [what, s, k] of pairs) console.log(`${what}: stack ${s.toFixed(0)} ms, docker-compose ${k.toFixed(0)} ms, docker-compose/stack ${(k / s).toFixed(2)}x`);
  } finally {
    await stop();
  }
}
if (existsSync(join(home, "run"))) stack(["down", "-v", "-t", "0"]);
