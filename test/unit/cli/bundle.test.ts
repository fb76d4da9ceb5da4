// The bundled CLI (dist/bundle/, made by `npm run build` through
// scripts/bundle-cli.mjs) must behave as the files tsc emitted: the same
// output, paths computed from import.meta.url pointing where they did, and
// bin/stack choosing the bundle only when it is not older than dist/.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/root.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bundleDir = join(root, "dist", "bundle");
const basic = join(root, "test", "fixtures", "config", "basic");
const tmp = mkdtempSync(join(tmpdir(), "stack-bundle-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// A --require preload: at exit, each classic script of the bundle that was compiled, and whether V8
// took its code cache ("scripts: main-path:accepted config-path:accepted"). A V8 flag set before a
// script is compiled makes V8 reject its cache silently: only the time would show it.
const scriptWatch = join(tmp, "watch-scripts.cjs");
writeFileSync(
  scriptWatch,
  `const vm = require("node:vm");
const Script = vm.Script;
const seen = [];
vm.Script = class extends Script {
  constructor(source, options) {
    super(source, options);
    const m = /(main-path|run-path|config-path)-/.exec((options && options.filename) || "");
    if (m) seen.push(m[1] + ":" + (options.cachedData ? (this.cachedDataRejected ? "rejected" : "accepted") : "none"));
  }
};
process.on("exit", () => process.stderr.write("scripts: " + seen.join(" ") + "\\n"));
`,
);
const scriptsOf = (stderr: string) => /(?:^|\n)scripts: (.*)\n$/.exec(stderr)?.[1];

/** What a fresh Node says of the code cache beside bundle script `name` (<name without .js>.cache): "accepted" or "rejected". */
function cacheVerdict(name: string): string {
  const check = `const vm = require("node:vm"); const fs = require("node:fs");
    const file = ${JSON.stringify(join(bundleDir, name))};
    const s = new vm.Script(fs.readFileSync(file, "latin1"), { filename: file, cachedData: fs.readFileSync(file.replace(/\\.js$/, ".cache")) });
    process.stdout.write(s.cachedDataRejected ? "rejected" : "accepted");`;
  const r = spawnSync(process.execPath, ["-e", check], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  return r.stdout;
}

/** The newest bundle file whose name matches: older builds' files stay a while for processes still running them. */
const newestScript = (pattern: RegExp): string | undefined =>
  readdirSync(bundleDir)
    .filter((n) => pattern.test(n))
    .sort((a, b) => statSync(join(bundleDir, b)).mtimeMs - statSync(join(bundleDir, a)).mtimeMs)[0];

function run(bin: string, args: string[], env: Record<string, string> = {}, cwd = basic) {
  return spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp, STACK_STATE_DIR: join(tmp, "state"), STACK_RUN_DIR: join(tmp, "run"), ...env } });
}

describe("the bundled CLI", () => {
  const bin = join(root, "bin", "stack");

  it("prints the same config, json and hashes as the files tsc emitted", () => {
    for (const args of [["config"], ["config", "--format", "json"], ["config", "--hash", "*"], ["config", "--services"]]) {
      const bundled = run(bin, args);
      const plain = run(bin, args, { STACK_NO_BUNDLE: "1" });
      expect(bundled.status, bundled.stderr).toBe(0);
      expect(bundled.stdout).not.toBe("");
      expect(bundled.stdout).toBe(plain.stdout);
      expect(bundled.stderr).toBe(plain.stderr);
    }
  });

  it("reports an invalid file as the files tsc emitted do (and loads `yaml` from node_modules to locate it)", () => {
    const invalid = join(root, "test", "fixtures", "config", "invalid");
    const bundled = run(bin, ["config", "-q"], {}, invalid);
    const plain = run(bin, ["config", "-q"], { STACK_NO_BUNDLE: "1" }, invalid);
    expect(bundled.status).toBe(1);
    expect(bundled.stderr).toMatch(/compose\.yaml:\d+:\d+: /);
    expect(bundled.stderr).toBe(plain.stderr);
  });

  it("reads package.json where version.js reads it", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    const r = run(bin, ["version"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(pkg.version);
  });

  it("does not load node:child_process for a command that starts no process (commander's require of it is made lazy at bundle time)", () => {
    const report = `process.on("exit", () => process.stderr.write("builtins:" + process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).join(",")));`;
    const loaded = (env: Record<string, string>) => {
      const r = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(report)}`, bin, "config", "-q"], { cwd: basic, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp, STACK_STATE_DIR: join(tmp, "state"), STACK_RUN_DIR: join(tmp, "run"), ...env } });
      expect(r.status, r.stderr).toBe(0);
      return /builtins:(.*)$/.exec(r.stderr)![1]!.split(",");
    };
    expect(loaded({})).not.toContain("NativeModule child_process");
    // The files tsc emitted load commander as it is, which requires it: the check can fail.
    expect(loaded({ STACK_NO_BUNDLE: "1" })).toContain("NativeModule child_process");
  });

  it("gives every module its own import.meta.url: each path made from it names a file tsc emitted", () => {
    const rewritten = new Set<string>();
    for (const name of readdirSync(bundleDir).filter((n) => n.endsWith(".js"))) {
      const text = readFileSync(join(bundleDir, name), "utf8");
      // (The config-path script gets its own URL as __stackScriptUrl.)
      for (const m of text.matchAll(/new URL\("([^"]+)", ?(?:import\.meta\.url|__stackScriptUrl)\)\.href/g)) rewritten.add(m[1]!);
    }
    // wiring.js (the supervisor entry), client.js, version.js, render.js and yaml-file.js (createRequire) at least.
    expect(rewritten.size).toBeGreaterThanOrEqual(5);
    for (const rel of rewritten) {
      expect(rel.startsWith("../")).toBe(true);
      expect(existsSync(fileURLToPath(new URL(rel, `file://${bundleDir}/`))), rel).toBe(true);
    }
    expect([...rewritten]).toContain("../engine/wiring.js");
  });
});

describe("the config-path script (the schema stages with a V8 code cache)", () => {
  const scripts = [newestScript(/^config-path-[0-9A-F]+\.js$/)].filter((n): n is string => n !== undefined);

  // One cache as Node starts, one for V8 without its optimizing compiler (what `config` runs with: src/fs/v8-tuning.ts).
  for (const [suffix, flags] of [[".cache", []], [".no-opt.cache", ["--no-opt"]]] as const) {
    it(`has a code cache (${suffix}) that this Node accepts${flags.length > 0 ? ` with ${flags.join(" ")}` : ""}`, () => {
      expect(scripts.length).toBeGreaterThan(0);
      const check = `const vm = require("node:vm"); const fs = require("node:fs");
        for (const name of ${JSON.stringify(scripts)}) {
          const file = ${JSON.stringify(bundleDir)} + "/" + name;
          const script = new vm.Script(fs.readFileSync(file, "utf8"), { filename: file, cachedData: fs.readFileSync(file.replace(/\\.js$/, ${JSON.stringify(suffix)})) });
          process.stdout.write(name + " " + (script.cachedDataRejected ? "rejected" : "accepted") + "\\n");
        }`;
      const r = spawnSync(process.execPath, [...flags, "-e", check], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim().split("\n").sort()).toEqual(scripts.map((n) => `${n} accepted`).sort());
    });
  }

  // `config` changes V8 flags as it runs (src/fs/v8-tuning.ts); a flag
  // changed before the script is compiled would make V8 reject its cache,
  // silently: only the time shows it. A preloaded module (a Node option, not
  // a V8 flag) watches every vm.Script made with a cache.
  it("is compiled with its code cache accepted when `stack config` runs", () => {
    for (const args of [["config"], ["config", "-q"], ["config", "--hash", "*"]]) {
      const r = run(join(root, "bin", "stack"), args, { NODE_OPTIONS: `--require ${scriptWatch}` });
      expect(r.status, r.stderr).toBe(0);
      expect(scriptsOf(r.stderr)).toBe("config-path:accepted");
    }
  });

  // A copy of the bundle beside links to the rest of the checkout, with its caches missing or damaged.
  function bundleCopy(name: string, damage: (cache: string) => void): string {
    const checkout = join(tmp, name);
    mkdirSync(join(checkout, "bin"), { recursive: true });
    mkdirSync(join(checkout, "dist", "bundle"), { recursive: true });
    for (const file of ["stack", "package.json"]) copyFileSync(join(root, "bin", file), join(checkout, "bin", file));
    for (const entry of ["package.json", "node_modules", "schemas"]) symlinkSync(join(root, entry), join(checkout, entry));
    for (const entry of readdirSync(join(root, "dist"))) if (entry !== "bundle") symlinkSync(join(root, "dist", entry), join(checkout, "dist", entry));
    for (const entry of readdirSync(bundleDir)) {
      copyFileSync(join(bundleDir, entry), join(checkout, "dist", "bundle", entry));
      if (entry.endsWith(".cache")) damage(join(checkout, "dist", "bundle", entry));
    }
    return join(checkout, "bin", "stack");
  }

  const cases: Array<{ name: string; damage: (cache: string) => void }> = [
    { name: "without its code cache, the script compiles from its source", damage: (cache) => rmSync(cache) },
    { name: "a damaged code cache is rejected and the script compiles from its source", damage: (cache) => writeFileSync(cache, Buffer.alloc(4096, 7)) },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const bin = bundleCopy(c.name.replace(/\W+/g, "-"), c.damage);
      for (const args of [["config"], ["config", "--format", "json"]]) {
        const copy = run(bin, args);
        const plain = run(join(root, "bin", "stack"), args, { STACK_NO_BUNDLE: "1" });
        expect(copy.status, copy.stderr).toBe(0);
        expect(copy.stdout).not.toBe("");
        expect(copy.stdout).toBe(plain.stdout);
      }
      const invalid = run(bin, ["config", "-q"], {}, join(root, "test", "fixtures", "config", "invalid"));
      expect(invalid.status).toBe(1);
      expect(invalid.stderr).toMatch(/^error: compose\.yaml:\d+:\d+: /);      // the run-path script too
      const runs = [run(bin, ["run", "--rm", "nosuch", "true"]), run(join(root, "bin", "stack"), ["run", "--rm", "nosuch", "true"], { STACK_NO_BUNDLE: "1" })];
      expect(runs[0]!.status).toBe(1);
      expect(runs[0]!.stderr).toBe(runs[1]!.stderr);
    });
  }
});

describe("the run-path script (`stack run` without commander, with a V8 code cache)", () => {
  const script = newestScript(/^run-path-[0-9A-F]+\.js$/);

  it("is the script dist/bundle/run-local.cjs runs, with a code cache that this Node accepts", () => {
    expect(script).toBeDefined();
    expect(readFileSync(join(bundleDir, "run-local.cjs"), "utf8")).toContain(JSON.stringify(script));
    expect(cacheVerdict(script!)).toBe("accepted");
  });

  it("holds no import() (a script compiled from a code cache has no loader for one)", () => {
    const text = readFileSync(join(bundleDir, script!), "latin1");
    expect(text).not.toMatch(/\bimport\(/);
    // the builtins that src/ imports lazily are required instead (e.g. node:tls by the registry client)
    expect(text).toContain('require("node:tls")');
  });

  it("loads the stack file through the config-path script (not a copy of the schema stages) when the model cache misses: an invalid file is reported as the files tsc emitted report it", () => {
    expect(readFileSync(join(bundleDir, script!), "latin1")).not.toMatch(/^\/\/ dist\/schema\/load\.js$/m);
    const invalid = join(root, "test", "fixtures", "config", "invalid");
    const bundled = run(join(root, "bin", "stack"), ["run", "--rm", "web", "true"], {}, invalid);
    const plain = run(join(root, "bin", "stack"), ["run", "--rm", "web", "true"], { STACK_NO_BUNDLE: "1" }, invalid);
    expect(bundled.status).toBe(1);
    expect(bundled.stderr).toMatch(/^error: compose\.yaml:\d+:\d+: /);
    expect(bundled.stderr).toBe(plain.stderr);
  });

  it("never starts Node's ES module loader for a `stack run` that stays local (bin/stack and the loader are CommonJS)", () => {
    // (a --require preload: an --import one would start the module loader itself)
    const report = join(tmp, "report-builtins.cjs");
    writeFileSync(report, `process.on("exit", () => process.stderr.write("builtins:" + process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).join(",")));`);
    const loaded = (env: Record<string, string>) => {
      const r = spawnSync(process.execPath, ["--require", report, join(root, "bin", "stack"), "run", "--rm", "nosuch", "true"], { cwd: basic, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp, STACK_STATE_DIR: join(tmp, "state"), STACK_RUN_DIR: join(tmp, "run"), ...env } });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('no such service: "nosuch"');
      return /builtins:(.*)$/.exec(r.stderr)![1]!.split(",");
    };
    expect(loaded({})).not.toContain("NativeModule internal/modules/esm/module_job");
    // The files tsc emitted are ES modules: the check can fail.
    expect(loaded({ STACK_NO_BUNDLE: "1" })).toContain("NativeModule internal/modules/esm/module_job");
  });

  it("runs `stack run` with its cache accepted, as the files tsc emitted do", () => {
    const bundled = run(join(root, "bin", "stack"), ["run", "--rm", "nosuch", "true"], { NODE_OPTIONS: `--require ${scriptWatch}` });
    const plain = run(join(root, "bin", "stack"), ["run", "--rm", "nosuch", "true"], { STACK_NO_BUNDLE: "1" });
    expect(bundled.status).toBe(1);
    // (the config-path script too, when the model cache misses and the stack file is loaded)
    expect(scriptsOf(bundled.stderr)).toMatch(/^run-path:accepted( config-path:accepted)?$/);
    expect(bundled.stderr.replace(/scripts: .*\n$/, "")).toBe(plain.stderr);
    expect(plain.stderr).toContain('no such service: "nosuch"');
  });
});

describe("the main-path script (the whole CLI for the engine verbs, with a V8 code cache)", () => {
  const script = newestScript(/^main-path-[0-9A-F]+\.js$/);

  it("is the script dist/bundle/main-path.cjs runs, with a code cache that this Node accepts", () => {
    expect(script).toBeDefined();
    expect(readFileSync(join(bundleDir, "main-path.cjs"), "utf8")).toContain(JSON.stringify(script));
    const text = readFileSync(join(bundleDir, script!), "latin1");
    expect(text).not.toMatch(/\bimport\(/);
    expect(text).toMatch(/^\/\/ node_modules\/commander\/lib\/command\.js$/m);
    expect(text).not.toMatch(/^\/\/ dist\/schema\/load\.js$/m);
    // The Kubernetes models are required from the installed package, only by `export kubernetes --check`.
    expect(text).toMatch(/^\/\/ dist\/export\/kubernetes\/check\.js$/m);
    expect(text).not.toMatch(/^\/\/ node_modules\/(@kubernetes-models|kubernetes-models)\//m);
    expect(text).toContain('require("kubernetes-models/v1/Namespace")');
    expect(cacheVerdict(script!)).toBe("accepted");
  });

  const lines: Array<{ args: string[]; scripts: string }> = [
    // engine verbs: the main-path script (and the config-path one, when the stack file is loaded)
    { args: ["up", "--bogus"], scripts: "main-path:accepted" },
    { args: ["down", "--timeout", "soon"], scripts: "main-path:accepted" },
    { args: ["rm", "-f", "nosuch"], scripts: "main-path:accepted config-path:accepted" },
    { args: ["exec", "nosuch", "true"], scripts: "main-path:accepted config-path:accepted" },
    // pulls: the registry client, store and unpacker are most of the CLI too
    { args: ["pull", "--bogus"], scripts: "main-path:accepted" },
    { args: ["image", "pull", "Not A Valid Reference"], scripts: "main-path:accepted" },
    // a project named like an engine verb: the export, with its models required at run time
    { args: ["-p", "up", "export", "kubernetes", "--check"], scripts: "main-path:accepted config-path:accepted" },
    // the others: the ES module chunks (config runs the config-path script from them)
    { args: ["ps", "--format", "yaml"], scripts: "" },
    { args: ["config", "-q"], scripts: "config-path:accepted" },
  ];
  for (const line of lines) {
    it(`stack ${line.args.join(" ")}: ${line.scripts || "no classic script"}, and what the files tsc emitted print`, () => {
      const bundled = run(join(root, "bin", "stack"), line.args, { NODE_OPTIONS: `--require ${scriptWatch}` });
      const plain = run(join(root, "bin", "stack"), line.args, { STACK_NO_BUNDLE: "1" });
      expect(scriptsOf(bundled.stderr)).toBe(line.scripts);
      expect(bundled.stderr.replace(/scripts: .*\n$/, "")).toBe(plain.stderr);
      expect(bundled.stdout).toBe(plain.stdout);
      expect(bundled.status).toBe(plain.status);
    });
  }
});

describe("the early start (dist/bundle/prestart.cjs, src/cli/prestart.ts)", () => {
  // A --require preload: at exit, whether bin/stack loaded the prestart script, and what it left for the CLI.
  const earlyWatch = join(tmp, "watch-early.cjs");
  writeFileSync(
    earlyWatch,
    `process.on("exit", () => {
  const loaded = Object.keys(require.cache).some((f) => f.endsWith("/dist/bundle/prestart.cjs"));
  const early = globalThis[Symbol.for("stack.early-start")];
  process.stderr.write("early: " + loaded + " " + (early ? early.results.size : "none") + "\\n");
});
`,
  );
  const earlyOf = (stderr: string) => /(?:^|\n)early: (.*)\n$/.exec(stderr)?.[1];
  // The reads start only as root, and while no stack bridge is on the host (src/cli/prestart.ts).
  const stackLinks = () => readdirSync("/sys/class/net").some((n) => n.startsWith("stk"));
  const cases = [
    // `up --bogus` ends at commander's option check: the reads were started and never taken.
    { args: ["up", "--bogus"], expected: () => (isRoot && !stackLinks() ? "true 3" : "true none") },
    // The other engine verbs do not load it.
    { args: ["down", "--timeout", "soon"], expected: () => "false none" },
    { args: ["start"], expected: () => "false none" },
    { args: ["ps", "--format", "yaml"], expected: () => "false none" },
  ];
  for (const c of cases) {
    it(`stack ${c.args.join(" ")}: ${c.expected()}`, () => {
      const expected = c.expected();
      const r = run(join(root, "bin", "stack"), c.args, { NODE_OPTIONS: `--require ${earlyWatch}` });
      expect(earlyOf(r.stderr)).toBe(expected);
    });
  }
});

describe("bin/stack's choice between the bundle and dist/", () => {
  // A checkout in miniature: bin/stack, and two entries that say which one ran.
  const fake = join(tmp, "checkout");
  mkdirSync(join(fake, "bin"), { recursive: true });
  mkdirSync(join(fake, "dist", "cli"), { recursive: true });
  mkdirSync(join(fake, "dist", "bundle"), { recursive: true });
  for (const file of ["stack", "package.json"]) copyFileSync(join(root, "bin", file), join(fake, "bin", file));
  writeFileSync(join(fake, "package.json"), '{"type":"module"}');
  const entry = (which: string) => `export async function main() { process.stdout.write(${JSON.stringify(which)}); }\n`;
  writeFileSync(join(fake, "dist", "cli", "main.js"), entry("tsc"));
  writeFileSync(join(fake, "dist", "bundle", "main.js"), entry("bundle"));
  const bin = join(fake, "bin", "stack");
  const setTimes = (file: string, seconds: number) => utimesSync(join(fake, "dist", file), seconds, seconds);

  const cases: Array<{ name: string; tsc: number; bundle: number; env: Record<string, string>; expected: string }> = [
    { name: "a bundle newer than dist/ runs", tsc: 1000, bundle: 2000, env: {}, expected: "bundle" },
    { name: "a bundle as new as dist/ runs", tsc: 2000, bundle: 2000, env: {}, expected: "bundle" },
    { name: "a bundle older than dist/ (tsc ran since) is not used", tsc: 3000, bundle: 2000, env: {}, expected: "tsc" },
    { name: "STACK_NO_BUNDLE=1 runs dist/", tsc: 1000, bundle: 2000, env: { STACK_NO_BUNDLE: "1" }, expected: "tsc" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      setTimes("cli/main.js", c.tsc);
      setTimes("bundle/main.js", c.bundle);
      const r = run(bin, [], c.env, fake);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(c.expected);
    });
  }

  it("runs dist/ when there is no bundle, and says how to build when there is neither", () => {
    rmSync(join(fake, "dist", "bundle"), { recursive: true });
    expect(run(bin, [], {}, fake).stdout).toBe("tsc");
    rmSync(join(fake, "dist", "cli"), { recursive: true });
    const r = run(bin, [], {}, fake);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("not built yet: run `npm ci` (or `npm run build`)");
  });
});
