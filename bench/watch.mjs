// bench/watch: how fast a change on the host reaches a container's files.
//   1. latency from a file write on the host to its new content being readable
//      in the container root (median and p90 of N single-file edits);
//   2. a 1,000-file burst written by another process (like a git checkout):
//      how many batches it became, and the time from the first write to the
//      batch being applied.
// The "container" is a temp folder behind a WatchTargetPort, as in the tests:
// the engine's real port writes into the overlay's merged dir the same way.
// Build first: npm run build.
//
//   node bench/watch.mjs [--runs N] [--bursts N] [--json]
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { numberOptions, quantile } from "./lib.mjs";

const args = process.argv.slice(2);
const option = numberOptions(args);
const runs = option("--runs", 30);
const bursts = option("--bursts", 3);
const asJson = args.includes("--json");

if (!existsSync(fileURLToPath(new URL("../dist/watch/index.js", import.meta.url)))) {
  console.error("bench/watch: dist/ is missing; run `npm run build` first");
  process.exit(2);
}
const { Watcher } = await import("../dist/watch/index.js");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const load = loadavg()[0];

const dir = mkdtempSync(join(tmpdir(), "stack-bench-watch-"));
const host = join(dir, "project");
const rootfs = join(dir, "rootfs");
mkdirSync(join(host, "src"), { recursive: true });
mkdirSync(join(rootfs, "app"), { recursive: true });

const events = [];
const port = {
  containerRoot: async () => [{ rootfs, uid: process.getuid(), gid: process.getgid(), container: "bench-app-1" }],
  restart: async () => {},
  rebuild: async () => {},
  exec: async () => ({ exitCode: 0, output: "" }),
};
const model = {
  name: "bench",
  project_dir: host,
  files: [],
  profiles: [],
  services: {
    app: {
      name: "app",
      volumes: [],
      develop: { watch: [{ action: "sync", path: join(host, "src"), target: "/app", ignore: [], include: [], initial_sync: false }] },
    },
  },
  disabled_services: {},
  networks: {},
  volumes: {},
  secrets: {},
  configs: {},
  extensions: {},
};
const watcher = new Watcher({ model, port, log: (e) => events.push({ ...e, at: performance.now() }) });

try {
  await watcher.start();

  // 1. Single-file edit → readable in the container.
  const latencies = [];
  for (let i = 0; i < runs; i++) {
    const content = `edit ${i} ${Math.random()}\n`;
    const t = performance.now();
    writeFileSync(join(host, "src", "main.js"), content);
    for (;;) {
      let now = "";
      try {
        now = readFileSync(join(rootfs, "app", "main.js"), "utf8");
      } catch {}
      if (now === content) break;
      if (performance.now() - t > 10_000) throw new Error("a single-file sync took over 10 s");
      await new Promise((r) => setImmediate(r));
    }
    latencies.push(performance.now() - t);
    await watcher.idle();
    await sleep(100);
  }

  // 2. 1,000-file bursts from another process.
  const burstRuns = [];
  const script = `const fs=require("fs"),p=require("path");for(let d=0;d<10;d++){const dd=p.join(process.argv[1],"d"+d);fs.mkdirSync(dd,{recursive:true});for(let i=0;i<100;i++)fs.writeFileSync(p.join(dd,"f"+i+".js"),process.argv[2]+d+"/"+i)}`;
  for (let b = 0; b < bursts; b++) {
    await watcher.idle();
    await sleep(300);
    const from = events.length;
    const t = performance.now();
    await promisify(execFile)(process.execPath, ["-e", script, join(host, "src", `burst${b}`), `b${b}:`]);
    const written = performance.now() - t;
    const expected = join(rootfs, "app", `burst${b}`, "d9", "f99.js");
    while (!existsSync(expected) || readFileSync(expected, "utf8") !== `b${b}:9/99`) {
      if (performance.now() - t > 60_000) throw new Error("a burst took over 60 s");
      await sleep(5);
    }
    await watcher.idle();
    const syncs = events.slice(from).filter((e) => e.action === "sync");
    burstRuns.push({ writtenMs: written, appliedMs: Math.max(...syncs.map((e) => e.at)) - t, batches: syncs.length, files: syncs.reduce((n, e) => n + (e.written ?? 0), 0), syncMs: syncs.reduce((n, e) => n + e.elapsedMs, 0) });
  }

  const result = {
    loadAverage: Number(load.toFixed(2)),
    singleFile: { runs, medianMs: Number(quantile(latencies, 0.5).toFixed(1)), p90Ms: Number(quantile(latencies, 0.9).toFixed(1)), goalMs: 100 },
    burst: burstRuns.map((r) => ({ ...r, writtenMs: Math.round(r.writtenMs), appliedMs: Math.round(r.appliedMs) })),
  };
  if (asJson) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`bench/watch (load average ${result.loadAverage})`);
    console.log(`  write → readable in the container, 1 file: median ${result.singleFile.medianMs} ms, p90 ${result.singleFile.p90Ms} ms over ${runs} edits (goal < 100 ms)`);
    for (const [i, r] of result.burst.entries()) {
      console.log(`  burst ${i + 1}: 1,000 files written by another process in ${r.writtenMs} ms → ${r.batches} batch(es), ${r.files} files synced, applied ${r.appliedMs} ms after the first write (sync work ${r.syncMs} ms)`);
    }
  }
} finally {
  await watcher.stop();
  rmSync(dir, { recursive: true, force: true });
}
