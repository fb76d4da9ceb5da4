// bench/pull: pull of a ~200 MB, 10-layer gzip image from docker-registry on
// 127.0.0.1 by `stack image pull` (download, verify, unpack — ready to run)
// against `skopeo copy` of the same image into a fresh local OCI folder
// (download and verify only), interleaved in the same run. Goal: stack no
// slower. For the transfer alone, the same pull without unpacking is timed
// in-process too. The CPU time (user + sys) of the CLI pull and of skopeo is
// read through /usr/bin/time (Debian package time) when it is there: on the
// shared test machine the wall time follows the load more than the code. So
// is the count of minor page faults: on this VM each costs tens of
// microseconds of kernel time, and they are where much of stack's CPU goes.
// Each timed command starts after a `sync`, so that none waits for the disk
// behind the writeback of what the one before it wrote.
// Needs root (layer unpack keeps owners and device nodes) and the
// docker-registry and skopeo packages. Build first: npm run build.
//
// `--baseline PATH` times another build's bin/stack (e.g. a checkout of an
// earlier commit, built) the same way, interleaved, for a before/after.
//
// `--profile DIR` adds one CLI pull under `node --cpu-prof` writing into DIR.
//
// `--dir DIR`: where the registry's storage, the state folders and skopeo's
// OCI folders go (a fresh folder inside DIR; default /var/tmp, where stack's
// default state folder /var/lib/stack also lives: not /tmp). Every run keeps
// its folders until the end. Why it matters here: this VM's ext4 has no
// journal, and without one ext4 will not reuse an inode freed in the last
// minute (five when its block is still dirty) — every file creation scans
// past all such inodes of its directory's block group. /tmp's group is the
// one the test suites create and delete tens of thousands of files in, and
// deleting a run's 510 files just before the next pull did the same: there,
// creating the image's 510 files cost 200–500 ms of kernel CPU, against
// 10–60 ms elsewhere (docs/registry.md).
//
//   node bench/pull.mjs [--runs N] [--megabytes N] [--dir DIR] [--baseline PATH/bin/stack] [--profile DIR] [--json]
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as tar from "tar-stream";
import { median, numberOptions } from "./lib.mjs";

const args = process.argv.slice(2);
const option = numberOptions(args);
const runs = option("--runs", 5);
const megabytes = option("--megabytes", 200);
const asJson = args.includes("--json");
const baselineBin = args.includes("--baseline") ? args[args.indexOf("--baseline") + 1] : undefined;
const profileDir = args.includes("--profile") ? args[args.indexOf("--profile") + 1] : undefined;
const workParent = args.includes("--dir") ? args[args.indexOf("--dir") + 1] : "/var/tmp";
const layersCount = 10;

const dist = fileURLToPath(new URL("../dist/image/registry/index.js", import.meta.url));
const stackBin = fileURLToPath(new URL("../bin/stack", import.meta.url));
if (!existsSync(dist)) {
  console.error("bench/pull: dist/ is missing; run `npm run build` first");
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error("bench/pull: needs root (layers are unpacked with their owners and device nodes)");
  process.exit(2);
}
const { pushImage, pullImage } = await import(dist);
const timeBin = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

/** Runs a command; its wall time, and its CPU time (ms) and minor page faults when /usr/bin/time can tell. */
function timed(command, argv, options = {}) {
  settleDisk();
  const cpuFile = join(dir, "cpu.txt");
  const [file, args] = timeBin ? [timeBin, ["-f", "%U %S %R", "-o", cpuFile, command, ...argv]] : [command, argv];
  const t0 = performance.now();
  const r = spawnSync(file, args, { encoding: "utf8", ...options });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${command} ${argv.join(" ")} failed: ${r.stderr}`);
  if (!timeBin) return { wall };
  const [user, sys, faults] = readFileSync(cpuFile, "utf8").trim().split(/\s+/).slice(-3).map(Number);
  return { wall, cpu: (user + sys) * 1000, faults };
}
/**
 * Before each timed command, `sync` and wait for it: the files the last
 * command left in the page cache are written back then, not while this one
 * runs (its own direct writes and fsyncs would queue behind them). Both
 * tools are treated alike; each one's own writeback still happens after it.
 */
function settleDisk() {
  spawnSync("sync");
}
const { ImageStore } = await import(fileURLToPath(new URL("../dist/image/store/index.js", import.meta.url)));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** One layer: files of compressible text and incompressible bytes, ~`bytes` uncompressed. */
async function layerTar(index, bytes) {
  const pack = tar.pack();
  const chunks = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c);
  })();
  const text = Buffer.from(`layer ${index}: some compressible text that repeats, as logs and sources do.\n`.repeat(Math.ceil(bytes / 2 / 70))).subarray(0, bytes / 2);
  const add = (header, body) => new Promise((r, j) => pack.entry(header, body, (e) => (e ? j(e) : r())));
  await add({ name: `layer${index}/`, type: "directory", mode: 0o755 }, Buffer.alloc(0));
  await add({ name: `layer${index}/text`, mode: 0o644, size: text.length }, text);
  for (let f = 0; f < 50; f++) {
    const b = randomBytes(Math.floor(bytes / 2 / 50));
    await add({ name: `layer${index}/bin-${f}`, mode: 0o755, size: b.length }, b);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const dir = mkdtempSync(join(workParent, "stack-bench-pull-"));

/**
 * What a fresh page-cache page costs right now: 32 MiB written to a new file
 * (kept until the end, so that the memory stays in use), in microseconds per
 * 4 KiB page. On this VM it swings between ~0.5 (memory the guest has at
 * hand: after many files were deleted) and ~10 (memory the host took back:
 * each page is a host fault), and with it what a page-cache write costs both
 * tools and whether stack writes large files past the page cache
 * (src/fs/page-cache-cost.ts). Printed so that figures can be compared.
 */
function probePageCache(name) {
  const bytes = Buffer.alloc(1024 * 1024, 0x5a);
  const fd = openSync(join(dir, name), "w");
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 32; i++) writeSync(fd, bytes);
  const ns = Number(process.hrtime.bigint() - t0);
  closeSync(fd);
  return +(ns / (32 * 256) / 1000).toFixed(2);
}
let registry;
const results = { runs, megabytes, layers: layersCount, dir: workParent, loadAverage: loadavg()[0] };
try {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  mkdirSync(join(dir, "storage"));
  writeFileSync(join(dir, "config.yml"), `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "storage")}\nhttp:\n  addr: ${host}\n`);
  registry = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore" });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((r) => http.get(`http://${host}/v2/`, (res) => (res.resume(), r(true))).on("error", () => r(false)));
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  // The image: 10 gzip layers, pushed by stack from a seed state dir.
  const seed = new ImageStore(join(dir, "seed"));
  const per = Math.floor((megabytes * 1e6) / layersCount);
  const layers = [];
  const diffIds = [];
  let compressed = 0;
  for (let i = 0; i < layersCount; i++) {
    const raw = await layerTar(i, per);
    const gz = gzipSync(raw, { level: 1 });
    const info = await seed.writeBlob(gz);
    compressed += info.size;
    layers.push({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: info.digest, size: info.size });
    diffIds.push((await seed.content.write(raw)).digest);
    await seed.content.delete(diffIds.at(-1));
  }
  const config = await seed.writeBlob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: diffIds } })));
  await seed.addImage({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size }, layers }, ["bench/big:1"]);
  const ref = `${host}/bench/big:1`;
  await pushImage({ stateDir: join(dir, "seed"), ref: "bench/big:1", target: ref });
  results.compressedMB = +(compressed / 1e6).toFixed(1);

  results.pageCacheUsBefore = probePageCache("page-cache-probe-before");
  const stackTimes = [];
  const skopeoTimes = [];
  const downloadTimes = [];
  const stackCpu = [];
  const skopeoCpu = [];
  const stackFaults = [];
  const skopeoFaults = [];
  const baselineTimes = [];
  const baselineCpu = [];
  const baselineFaults = [];
  for (let r = 0; r < runs; r++) {
    const state = join(dir, `stack-${r}`);
    const s = timed(process.execPath, [stackBin, "image", "pull", "-q", ref], { env: { ...process.env, STACK_STATE_DIR: state } });
    stackTimes.push(s.wall);
    if (s.cpu !== undefined) stackCpu.push(s.cpu), stackFaults.push(s.faults);

    if (baselineBin) {
      const b = timed(process.execPath, [baselineBin, "image", "pull", "-q", ref], { env: { ...process.env, STACK_STATE_DIR: join(dir, `baseline-${r}`) } });
      baselineTimes.push(b.wall);
      if (b.cpu !== undefined) baselineCpu.push(b.cpu), baselineFaults.push(b.faults);
    }

    // The same pull in-process without unpacking: the transfer alone, like skopeo's part.
    const plain = join(dir, `download-${r}`);
    settleDisk();
    const t0 = performance.now();
    await pullImage({ stateDir: plain, ref, unpack: false });
    downloadTimes.push(performance.now() - t0);

    const oci = join(dir, `skopeo-${r}`);
    const k = timed("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${ref}`, `oci:${oci}:bench`]);
    skopeoTimes.push(k.wall);
    if (k.cpu !== undefined) skopeoCpu.push(k.cpu), skopeoFaults.push(k.faults);
  }
  if (profileDir) {
    // One more CLI pull under the V8 profiler, after the timed runs (it slows what it watches).
    const state = join(dir, "stack-profiled");
    timed(process.execPath, ["--cpu-prof", "--cpu-prof-dir", profileDir, stackBin, "image", "pull", "-q", ref], { env: { ...process.env, STACK_STATE_DIR: state } });
  }
  results.stackMedianMs = Math.round(median(stackTimes));
  results.skopeoMedianMs = Math.round(median(skopeoTimes));
  results.downloadOnlyMedianMs = Math.round(median(downloadTimes));
  results.ratio = +(results.stackMedianMs / results.skopeoMedianMs).toFixed(2);
  if (stackCpu.length > 0) {
    results.stackCpuMedianMs = Math.round(median(stackCpu));
    results.skopeoCpuMedianMs = Math.round(median(skopeoCpu));
    results.stackMinorFaultsMedian = median(stackFaults);
    results.skopeoMinorFaultsMedian = median(skopeoFaults);
  }
  results.loadAverageAfter = loadavg()[0];
  results.pageCacheUsAfter = probePageCache("page-cache-probe-after");
  if (baselineBin) {
    results.baselineMedianMs = Math.round(median(baselineTimes));
    if (baselineCpu.length > 0) {
      results.baselineCpuMedianMs = Math.round(median(baselineCpu));
      results.baselineMinorFaultsMedian = median(baselineFaults);
    }
  }
  results.goalMet = results.ratio <= 1;
} finally {
  registry?.kill("SIGTERM");
  if (registry) await new Promise((r) => registry.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
if (asJson) console.log(JSON.stringify(results));
else {
  console.log(`bench/pull: ${results.layers} layers, ${megabytes} MB unpacked, ${results.compressedMB} MB gzip, ${runs} runs in ${workParent}, load ${results.loadAverage.toFixed(1)} → ${results.loadAverageAfter.toFixed(1)}`);
  console.log(`  a fresh page-cache page costs ${results.pageCacheUsBefore} µs before the runs, ${results.pageCacheUsAfter} µs after (cheap below ~1, a host fault each near 10)`);
  const cpu = (ms, faults) => (ms === undefined ? "" : `, cpu ${ms} ms${faults === undefined ? "" : `, ${faults} minor page faults`}`);
  console.log(`  stack image pull (download + verify + unpack): median ${results.stackMedianMs} ms${cpu(results.stackCpuMedianMs, results.stackMinorFaultsMedian)}`);
  if (baselineBin) {
    console.log(`  baseline ${baselineBin} image pull: median ${results.baselineMedianMs} ms${cpu(results.baselineCpuMedianMs, results.baselineMinorFaultsMedian)}`);
    const cpuRatio = results.baselineCpuMedianMs ? `, cpu ${(results.stackCpuMedianMs / results.baselineCpuMedianMs).toFixed(2)}` : "";
    console.log(`  stack/baseline (same runs): wall ${(results.stackMedianMs / results.baselineMedianMs).toFixed(2)}${cpuRatio}`);
  }
  console.log(`  stack pull without unpacking (in-process, download + verify): median ${results.downloadOnlyMedianMs} ms`);
  console.log(`  skopeo copy to an OCI folder (download + verify): median ${results.skopeoMedianMs} ms${cpu(results.skopeoCpuMedianMs, results.skopeoMinorFaultsMedian)}`);
  console.log(`  ratio stack/skopeo: ${results.ratio} (goal <= 1: ${results.goalMet ? "met" : "not met"})`);
}
