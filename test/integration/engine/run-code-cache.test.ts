// A plain cold `stack run` runs the run-path script (scripts/bundle-cli.mjs)
// with a V8 code cache. The build's cache holds what the script's top level
// compiled; the first run that exits 0 writes `<script>.trained.cache` beside
// it, which also holds what a run called, and later runs use that one. This
// test runs real containers from a copy of the bundle, so the checkout's own
// dist/bundle/ is left as the build made it.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { skipUnlessRoot } from "../../helpers/root.js";
import { IMAGE, makeProject, type Project } from "./harness.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bundleDir = join(root, "dist", "bundle");

describe.skipIf(skipUnlessRoot("runs containers with runc"))("the run-path script's trained code cache", { timeout: 120_000 }, () => {
  const checkout = mkdtempSync("/tmp/stack-run-cache-");
  let project: Project | undefined;
  afterAll(async () => {
    try {
      await project?.dispose();
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  });

  // A checkout in miniature: bin/, a copy of the bundle, links to the rest.
  mkdirSync(join(checkout, "bin"));
  mkdirSync(join(checkout, "dist", "bundle"), { recursive: true });
  for (const file of ["stack", "package.json"]) copyFileSync(join(root, "bin", file), join(checkout, "bin", file));
  for (const entry of ["package.json", "node_modules", "schemas"]) symlinkSync(join(root, entry), join(checkout, entry));
  for (const entry of readdirSync(join(root, "dist"))) if (entry !== "bundle") symlinkSync(join(root, "dist", entry), join(checkout, "dist", entry));
  for (const entry of readdirSync(bundleDir)) if (!entry.endsWith(".trained.cache")) copyFileSync(join(bundleDir, entry), join(checkout, "dist", "bundle", entry));
  const loader = readFileSync(join(checkout, "dist", "bundle", "run-local.cjs"), "utf8");
  const script = /"(run-path-[0-9A-F]+)\.js"/.exec(loader)![1]!;
  const trained = join(checkout, "dist", "bundle", `${script}.trained.cache`);

  // Preloaded: reports, for the run-path script, the size of the cache it was given and whether V8 took it.
  const watch = join(checkout, "watch.cjs");
  writeFileSync(
    watch,
    `const vm = require("node:vm");
const Script = vm.Script;
let seen = "none";
vm.Script = class extends Script {
  constructor(source, options) {
    super(source, options);
    if (options && /run-path-/.test(options.filename)) seen = options.cachedData ? options.cachedData.length + (this.cachedDataRejected ? " rejected" : " accepted") : "no cache";
  }
};
process.on("exit", () => process.stderr.write("cache: " + seen + "\\n"));
`,
  );
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, ["--require", watch, join(checkout, "bin", "stack"), "run", "--rm", "-T", ...args], { cwd: project!.dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...project!.env }, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, cache: /cache: (.*)\n$/.exec(r.stderr)?.[1] };
  };

  test("is written by the first run that exits 0, taken by the next, and written again when V8 rejects it", async () => {
    project = await makeProject("runcache");
    project.write(`
services:
  app:
    image: ${IMAGE}
    network_mode: none
`);
    const buildCache = statSync(join(checkout, "dist", "bundle", `${script}.cache`)).size;

    // Runs that fail leave the build's cache alone.
    const missing = run(["nosuch", "true"]);
    expect(missing.status).toBe(1);
    expect(missing.cache).toBe(`${buildCache} accepted`);
    const failed = run(["app", "sh", "-c", "echo out; exit 3"]);
    expect(failed.status).toBe(3);
    expect(failed.stdout).toBe("out\n");
    expect(existsSync(trained)).toBe(false);

    // The first success writes the trained cache (more than the build's: what the run called)…
    const first = run(["app", "true"]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.cache).toBe(`${buildCache} accepted`);
    expect(existsSync(trained)).toBe(true);
    const size = statSync(trained).size;
    expect(size).toBeGreaterThan(buildCache);

    // …which the next run takes, and leaves as it is.
    const second = run(["app", "sh", "-c", "echo again"]);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toBe("again\n");
    expect(second.cache).toBe(`${size} accepted`);
    const mtime = statSync(trained).mtimeMs;
    expect(run(["app", "true"]).status).toBe(0);
    expect(statSync(trained).mtimeMs).toBe(mtime);

    // A damaged one is rejected (the script compiles from its source, and runs as well), then replaced.
    writeFileSync(trained, Buffer.alloc(4096, 7));
    const damaged = run(["app", "sh", "-c", "exit 0"]);
    expect(damaged.status, damaged.stderr).toBe(0);
    expect(damaged.cache).toBe("4096 rejected");
    expect(run(["app", "true"]).cache).toMatch(/^\d+ accepted$/);
    expect(statSync(trained).size).toBeGreaterThan(buildCache);
    expect(readdirSync(join(checkout, "dist", "bundle")).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});
