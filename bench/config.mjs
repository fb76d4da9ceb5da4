// bench/config: wall time of `stack -f F config` on a generated 300-service
// stack (Node start-up included; goal < 300 ms median), and the time to
// refuse a YAML file of 10^6 aliases (goal < 1 s). Build first: npm run build.
//
//   node bench/config.mjs [--runs N] [--services N] [--json]
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateAliasFlood, generateStack } from "./generate-stack.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const runs = option("--runs", 15);
const services = option("--services", 300);
const asJson = args.includes("--json");

const bin = fileURLToPath(new URL("../bin/stack", import.meta.url));
if (!existsSync(fileURLToPath(new URL("../dist/cli/main.js", import.meta.url)))) {
  console.error("bench/config: dist/ is missing; run `npm run build` first");
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function timeRun(argv, cwd) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { cwd, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), "stack-bench-config-"));
try {
  const stackFile = join(dir, "compose.yaml");
  writeFileSync(stackFile, generateStack(services));
  const floodFile = join(dir, "flood.yaml");
  writeFileSync(floodFile, generateAliasFlood(1_000_000));

  // Peer in the same run: bare Node start-up, the floor under any CLI.
  const node = [];
  for (let i = 0; i < runs; i++) node.push(timeRun(["-e", ""], dir).ms);

  const first = timeRun([bin, "-f", stackFile, "config"], dir);
  if (first.status !== 0) {
    console.error(`bench/config: stack config failed (exit ${first.status}):\n${first.stderr}`);
    process.exit(1);
  }
  const config = [];
  for (let i = 0; i < runs; i++) config.push(timeRun([bin, "-f", stackFile, "config"], dir).ms);
  const quiet = [];
  for (let i = 0; i < runs; i++) quiet.push(timeRun([bin, "-f", stackFile, "config", "-q"], dir).ms);

  const floods = [];
  let floodError = "";
  for (let i = 0; i < 3; i++) {
    const r = timeRun([bin, "-f", floodFile, "config", "-q"], dir);
    if (r.status === 0) {
      console.error("bench/config: the alias flood was accepted");
      process.exit(1);
    }
    floodError = r.stderr.split("\n")[0];
    floods.push(r.ms);
  }

  const result = {
    services,
    runs,
    node_startup_median_ms: Math.round(median(node)),
    config_median_ms: Math.round(median(config)),
    config_quiet_median_ms: Math.round(median(quiet)),
    config_output_bytes: first.stdout.length,
    alias_flood_refusal_median_ms: Math.round(median(floods)),
    alias_flood_error: floodError,
  };
  if (asJson) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    console.log(`stack config, ${services} services, ${runs} runs (Node start-up included)`);
    console.log(`  node -e ''             median ${result.node_startup_median_ms} ms (peer: bare start-up)`);
    console.log(`  stack config           median ${result.config_median_ms} ms (goal < 300 ms; ${result.config_output_bytes} bytes out)`);
    console.log(`  stack config -q        median ${result.config_quiet_median_ms} ms`);
    console.log(`  10^6 aliases refused   median ${result.alias_flood_refusal_median_ms} ms (goal < 1000 ms)`);
    console.log(`    ${result.alias_flood_error}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
