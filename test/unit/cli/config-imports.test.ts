// `stack config` starts fast because it loads little: commander, the schema
// stages and js-yaml — never the progress UI (listr2), process spawning
// (execa), file watching (chokidar), the other layers (engine, runtime,
// network, image …), ajv's runtime (the validator is precompiled) or the
// `yaml` library (only needed to locate problems in an invalid file, and to
// print keys over 1024 characters). This test runs the built CLI with a
// module hook that lists every module it loads, ESM and CommonJS, and checks
// that list: it catches a stray top-level import long before a timing would.
// It checks both ways bin/stack runs: the files tsc emitted (STACK_NO_BUNDLE=1)
// and the bundle (dist/bundle/, scripts/bundle-cli.mjs), whose chunks name
// the modules they hold in `// path` comments.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const stackBin = join(root, "bin", "stack");
const basic = join(root, "test", "fixtures", "config", "basic");
const invalid = join(root, "test", "fixtures", "config", "invalid");

// Preloaded with --import: an ESM resolve hook (it runs on the loader thread)
// appends each resolved URL to the log; at exit, the CommonJS cache is added.
const hook = `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.STACK_TEST_MODULE_LOG, r.url + "\\n");
  return r;
}`;
const preload = `import { register, createRequire } from "node:module";
import { appendFileSync } from "node:fs";
register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hook)}));
process.on("exit", () => appendFileSync(process.env.STACK_TEST_MODULE_LOG, Object.keys(createRequire("/").cache).map((f) => "file://" + f + "\\n").join("")));`;

const tmp = mkdtempSync(join(tmpdir(), "stack-config-imports-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let runs = 0;
/** The modules one `stack` run loaded, as paths relative to the checkout (or `node:x`). */
function modulesLoadedBy(args: string[], cwd: string, bundled = false): { status: number | null; modules: string[] } {
  const log = join(tmp, `modules-${++runs}.log`);
  const r = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(preload)}`, stackBin, ...args], {
    cwd,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp, STACK_STATE_DIR: join(tmp, "state"), STACK_RUN_DIR: join(tmp, "run"), STACK_TEST_MODULE_LOG: log, ...(bundled ? {} : { STACK_NO_BUNDLE: "1" }) },
  });
  const urls = readFileSync(log, "utf8").split("\n").filter((l) => l !== "");
  const modules = [...new Set(urls.map((u) => (u.startsWith("file://") ? fileURLToPath(u).replace(root, "") : u)))].sort();
  return { status: r.status, modules };
}

/** The modules a bundle file holds, from esbuild's `// node_modules/x/y.js` and `// dist/x.js` comments. */
function modulesInBundleFile(file: string): string[] {
  return [...readFileSync(join(root, file), "utf8").matchAll(/^\/\/ ((?:node_modules|dist)\/\S+)$/gm)].map((m) => m[1]!);
}

/**
 * The config-path scripts a bundle file runs (scripts/bundle-cli.mjs: the
 * schema stages as a classic script with a code cache, read with
 * readFileSync, which no module hook sees).
 */
function scriptsRunBy(file: string): string[] {
  return [...readFileSync(join(root, file), "utf8").matchAll(/"\.\/(config-path-[0-9A-F]+\.js)"/g)].map((m) => `dist/bundle/${m[1]!}`);
}

const packageOf = (m: string) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m)?.[1];

/** What `config` may load from the checkout: the CLI entry, the command registrations, the schema stages, and the V8 settings it runs with. */
const allowedOwnModule = /^(bin\/stack|dist\/errors\.js|dist\/cli\/(main|format-error|context|project)\.js|dist\/cli\/commands\/[^/]+\.js|dist\/schema\/.+\.js|dist\/fs\/v8-tuning\.js)$/;

describe("the modules `stack config` loads", () => {
  for (const args of [["config"], ["config", "-q"], ["config", "--format", "json"], ["config", "--hash", "*"]]) {
    it(`stack ${args.join(" ")}: commander, js-yaml and the schema stages only`, () => {
      const { status, modules } = modulesLoadedBy(args, basic);
      expect(status).toBe(0);
      // The hook sees both kinds of module (else this test would pass on an empty list).
      expect(modules).toContain("dist/schema/load.js");
      expect(modules).toContain("node_modules/commander/lib/command.js");
      const packages = [...new Set(modules.map(packageOf).filter((p) => p !== undefined))].sort();
      expect(packages).toEqual(["commander", "js-yaml"]);
      expect(modules.filter((m) => !m.startsWith("node:") && !m.startsWith("node_modules/") && !allowedOwnModule.test(m))).toEqual([]);
    });
  }

  it("an invalid file loads `yaml` to point at the problems, and still no more", () => {
    const { status, modules } = modulesLoadedBy(["config", "-q"], invalid);
    expect(status).toBe(1);
    const packages = [...new Set(modules.map(packageOf).filter((p) => p !== undefined))].sort();
    expect(packages).toEqual(["commander", "js-yaml", "yaml"]);
  });
});

describe("the bundle chunks `stack config` loads", () => {
  for (const args of [["config"], ["config", "--hash", "*"]]) {
    it(`stack ${args.join(" ")}: bundle files holding commander, js-yaml and the schema stages only`, () => {
      const { status, modules } = modulesLoadedBy(args, basic, true);
      expect(status).toBe(0);
      const files = modules.filter((m) => !m.startsWith("node:"));
      expect(files).toContain("dist/bundle/main.js");
      expect(files.filter((m) => m !== "bin/stack" && !m.startsWith("dist/bundle/"))).toEqual([]);
      const chunks = files.filter((m) => m.startsWith("dist/bundle/"));
      const scripts = chunks.flatMap(scriptsRunBy);
      expect(scripts).toHaveLength(1);
      const held = [...new Set([...chunks, ...scripts].flatMap(modulesInBundleFile))].sort();
      expect(held).toContain("dist/schema/load.js");
      expect(held).toContain("node_modules/commander/lib/command.js");
      expect([...new Set(held.map(packageOf).filter((p) => p !== undefined))].sort()).toEqual(["commander", "js-yaml"]);
      expect(held.filter((m) => !m.startsWith("node_modules/") && !allowedOwnModule.test(m))).toEqual([]);
    });
  }
});
