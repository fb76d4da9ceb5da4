// Bundles the CLI that tsc emitted (dist/cli/main.js) into dist/bundle/:
// one module for what every command loads (entry, commander, the command
// registrations) and one chunk per lazily imported implementation (code
// splitting keeps `import()` lazy). bin/stack runs it when it is at least as
// new as dist/cli/main.js; dist/ itself stays as tsc emits it (tests, the
// supervisor and the benches import dist/…/*.js).
//
// Why: Node resolves, reads and compiles each ESM file on its own; for
// `stack config` that is ~55 files, tens of milliseconds of a start-up that
// issue 2 wants under 300 ms in total.
//
// Each module keeps its own `import.meta.url` (rewritten to the URL of the
// file tsc emitted), so paths computed from it (the supervisor entry,
// package.json, createRequire) mean what they mean unbundled. `yaml` stays a
// package import: it is only required on rare paths, by createRequire.
// The stages `stack config` runs (loading a stack file, rendering it) are
// also built as one classic script with a V8 code cache next to it
// (config-path-<hash>.js and .cache): see buildConfigPathScript below; and
// so are a plain `stack run` and the whole CLI, for the commands that drive
// the engine (run-path, main-path): see entryScript below.
import { build } from "esbuild";
import { esmBundleOptions, importMetaUrlRelativeTo as keepImportMetaUrl, writeBundle } from "./bundle-common.mjs";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire, isBuiltin } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const outdir = join(dist, "bundle");

/** `import.meta.url` of a file under dist/, written relative to `base` (chunks and the config-path script all sit in dist/bundle/). */
const importMetaUrlRelativeTo = (base) => keepImportMetaUrl(outdir, base);

// ---- the config path: one classic script with a V8 code cache -------------
//
// Node 20 compiles each ESM file from its source on every run (it has no
// code cache for modules), and V8 compiles each function again, in full, on
// its first call. For `stack config` that is the schema stages, js-yaml and
// the precompiled validator: ~570 KB of source, tens of milliseconds before
// and while a stack file is loaded. A classic script (vm.Script) can be
// given a code cache. So load.js and render.js, as the CLI (dist/cli/)
// imports them, are built once more as one CommonJS script wrapped in a
// function, compiled here, run once over a training stack file (below), and
// its code cache written next to it: it holds the functions that ran, no
// others (V8 compiles the rest on first call, as it would without a cache;
// compiling all of them, --no-lazy, made a cache half again as large, every
// byte of it read and deserialized on every run). In the bundle, those two
// imports lead to a small module that runs the script with its cache and
// exports what load.js and render.js export.
//
// - The script gets errors.js from the bundle (`require("stack:errors")`),
//   not a copy: the CLI edge tells stack's errors apart with instanceof.
// - Node modules and `yaml` come from a require() made for the script's file.
// - V8 rejects a cache made by another Node version or with other V8 flags:
//   the script then compiles from its source, as a module would (slower,
//   same behaviour).
// - Both names carry a hash of the script, as chunk names do: a process
//   started before a rebuild still finds the files it names.
const configModules = { load: join(dist, "schema", "load.js"), render: join(dist, "schema", "render.js") };
const errorsModule = join(dist, "errors.js");

/** Marks dist/errors.js as the external "stack:errors" (the bundle's own copy, handed in at run time). */
const sharedErrors = {
  name: "shared-errors",
  setup(b) {
    b.onResolve({ filter: /errors\.js$/ }, (args) => (resolve(args.resolveDir, args.path) === errorsModule ? { path: "stack:errors", external: true } : undefined));
  },
};

async function buildConfigPathScript() {
  const entry = Object.entries(configModules)
    .map(([name, path]) => `export * as ${name} from ${JSON.stringify(path)};`)
    .join("\n");
  const script = await classicScript("config-path", { stdin: { contents: entry, resolveDir: dist, sourcefile: "config-path.js", loader: "js" } }, [sharedErrors]);
  const errors = await import(pathToFileURL(errorsModule).href);
  const requireFor = (filename) => {
    const nodeRequire = createRequire(pathToFileURL(filename));
    return (id) => (id === "stack:errors" ? errors : nodeRequire(id));
  };
  // V8 accepts a cache only under the flags it was made with: one cache as
  // Node starts, one with the optimizing compiler off (src/fs/v8-tuning.ts).
  const cache = await codeCache(script, requireFor, train);
  v8.setFlagsFromString("--no-opt");
  let noOptCache;
  try {
    noOptCache = await codeCache(script, requireFor, train);
  } finally {
    v8.setFlagsFromString("--opt");
  }
  // The default cache must still be one this Node accepts as it runs bin/stack.
  if (new vm.Script(script.source, { filename: script.filename, cachedData: cache }).cachedDataRejected) throw new Error("bundle-cli: V8 rejected the code cache it made");
  const exported = {};
  for (const [key, path] of Object.entries(configModules)) exported[key] = Object.keys(await import(pathToFileURL(path).href)).sort();
  return { ...script, cache, noOptCache, exported };
}

/**
 * Dynamic imports that a classic script turns into a require() when it runs:
 * Node hands a dynamic import() in a vm.Script compiled from a code cache
 * no loader ("A dynamic import callback was not specified"), so none may be
 * left. esbuild wraps the required module in its ESM interop, as it does
 * for bundled modules imported lazily: the same namespace (named exports
 * and default). Two kinds:
 * - `import("node:…")` of a builtin;
 * - `import("kubernetes-models/…")`, required from the installed package
 *   (CommonJS) instead of copied into the script: only `export kubernetes
 *   --check` loads those models (and their validator), and a classic
 *   script's every byte is read and copied on every run, whatever it runs.
 *   In main-path they were ~40% of the script (1.6 → 0.93 MB, its cache
 *   394 → 295 KB): `up -d` of 4 services ~2% faster, interleaved.
 */
const dynamicImportsAsRequire = {
  name: "dynamic-imports-as-require",
  setup(b) {
    const required = (args) => ({ path: args.path, namespace: "required-at-run-time" });
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => (args.kind === "dynamic-import" && isBuiltin(args.path) ? required(args) : undefined));
    b.onResolve({ filter: /^kubernetes-models\// }, (args) => (args.kind === "dynamic-import" ? required(args) : { path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: "required-at-run-time" }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: "js" }));
  },
};

/**
 * One classic script (CommonJS, wrapped in a function of require, module,
 * exports and its own URL) built by esbuild from `input` (entryPoints or
 * stdin), named `<base>-<hash of its source>.js` in dist/bundle/.
 */
async function classicScript(base, input, plugins) {
  const built = await build({
    ...input,
    write: false,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    external: ["yaml"],
    plugins: [...plugins, dynamicImportsAsRequire, importMetaUrlRelativeTo("__stackScriptUrl")],
    logLevel: "warning",
    legalComments: "none",
    // Less source to read, copy and keep on every run (each 4 KB of it a page
    // fault on the development VM): main-path 2.1 → 1.6 MB, its cache 509 →
    // 392 KB. Functions and classes keep their names (stack traces, errors'
    // names).
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: true,
    keepNames: true,
    metafile: true,
    absWorkingDir: root,
  });
  // What the script holds, one `// path` line each, as esbuild names the modules in a chunk.
  const held = Object.keys(built.metafile.inputs)
    .filter((path) => existsSync(join(root, path))) // not a stdin entry or a builtin, which are no files
    .sort()
    .map((path) => `// ${path}\n`)
    .join("");
  // ASCII only (a few comments and regular expressions hold `µ`, `“`…): V8
  // would otherwise keep the whole source as a two-byte string.
  const ascii = built.outputFiles[0].text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  // Any import() left (none was seen in the output: it would be a false alarm in a string) is refused.
  if (/\bimport\(/.test(ascii)) throw new Error(`bundle-cli: ${base} still has an import(): a classic script run from a code cache cannot import (see dynamicImportsAsRequire)`);
  const source = `${held}(function (require, module, exports, __stackScriptUrl) {\n${ascii}\n})`;
  const name = `${base}-${createHash("sha256").update(source).digest("hex").slice(0, 8).toUpperCase()}`;
  return { name, source, filename: join(outdir, `${name}.js`) };
}

/**
 * The code cache of a classic script after it ran once — its top level and
 * then `train(exports)`, if given — under the V8 flags of the moment: it
 * holds the functions that ran, no others (V8 compiles the rest on first
 * call, as it would without a cache). `requireFor(filename)` makes the
 * require() the script is given.
 */
async function codeCache({ source, filename }, requireFor, train) {
  const script = new vm.Script(source, { filename });
  const module = { exports: {} };
  script.runInThisContext()(requireFor(filename), module, module.exports, pathToFileURL(filename).href);
  if (train) await train(module.exports);
  const cache = script.createCachedData();
  if (new vm.Script(source, { filename, cachedData: cache }).cachedDataRejected) throw new Error("bundle-cli: V8 rejected the code cache it just made");
  return cache;
}

/**
 * A stack file with what most files have (anchors and merge keys,
 * interpolation, short and long ports and volumes, list and map
 * environments, healthchecks, depends_on, networks, build, resources,
 * secrets, configs), repeated a few times, as `stack config` loads and
 * prints it: read from "stdin", so the build touches no file.
 */
function trainingStack(services) {
  let text = `name: training
x-common: &common
  restart: unless-stopped
  labels:
    com.example.team: training
  logging:
    driver: json-file
    options: {max-size: 10m}
services:
`;
  for (let i = 0; i < services; i++) {
    text += `  svc${i}:
    <<: *common
    image: "registry.local/app${i}:\${TAG:-1.0}"
    command: ["serve", "--port", "${8000 + i}"]
    environment:
      - INDEX=${i}
      - LEVEL=\${LOG_LEVEL:-info}
    ports:
      - "${10000 + i}:8000"
      - "127.0.0.1:${20000 + i}:9000/udp"
      - ${30000 + i}
      - {target: 7000, published: "${40000 + i}", protocol: tcp}
    volumes:
      - ./data/svc${i}:/var/lib/app:ro
      - cache:/cache
      - /anonymous
      - type: tmpfs
        target: /tmp
        tmpfs: {size: 64m}
    healthcheck:
      test: ["CMD", "wget", "-q", "http://localhost:8000/health"]
      interval: 30s
      timeout: 5s
      retries: 3
    networks: [front, back]
    mem_limit: 256m
    secrets: [token]
    configs: [settings]
${i > 0 ? `    depends_on:
      svc${i - 1}:
        condition: service_started
` : ""}`;
  }
  text += `  worker:
    build: ./worker
    command: run --queue jobs
    environment: {MODE: batch, QUIET: "true"}
    depends_on: [svc0]
    deploy: {resources: {limits: {memory: 512m, cpus: "0.5"}}}
    ulimits: {nofile: 1024}
    extra_hosts: ["gw:10.0.0.1"]
    healthcheck:
      test: curl -f http://localhost/ || exit 1
      interval: 1m30s
      start_period: 1.5s
    networks:
      back:
        aliases: [jobs]
networks:
  front:
  back:
    internal: true
volumes:
  cache:
secrets:
  token:
    file: ./token.txt
configs:
  settings:
    content: "debug = false\n"
`;
  return text;
}

/** Runs the config path of the script's exports once: load, then print as YAML and JSON. */
async function train(exported) {
  const text = trainingStack(12);
  const { model } = await exported.load.loadStack({ files: ["-"], cwd: root, env: {}, profiles: [], envFiles: [], interpolate: true, readStdin: () => text });
  exported.render.renderModelChunks(model, "yaml");
  exported.render.renderModel(model, "json");
}

/**
 * The module that runs the config-path script (once) and hands out its
 * exports; `here` is the expression for the URL of the bundle file it sits
 * in (in dist/bundle/, beside the script).
 */
function configPathLoader(name, here) {
  return `import * as errors from ${JSON.stringify(errorsModule)};
import { isOptimizerOff } from ${JSON.stringify(join(dist, "fs", "v8-tuning.js"))};
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const url = new URL(${JSON.stringify(`./${name}.js`)}, ${here});
let cachedData;
try {
  cachedData = readFileSync(new URL(isOptimizerOff() ? ${JSON.stringify(`./${name}.no-opt.cache`)} : ${JSON.stringify(`./${name}.cache`)}, ${here}));
} catch {
  // no cache: V8 compiles the script from its source
}
const script = new vm.Script(readFileSync(url, "utf8"), { filename: fileURLToPath(url), cachedData });
const nodeRequire = createRequire(url);
const module = { exports: {} };
script.runInThisContext()((id) => (id === "stack:errors" ? errors : nodeRequire(id)), module, module.exports, url.href);
export const configPath = module.exports;
`;
}

/**
 * load.js and render.js, when dist/cli/ imports them: the config-path
 * script's exports (`here`: as for configPathLoader).
 */
function configPathModules(script, here) {
  const cli = join(dist, "cli") + "/";
  return {
    name: "config-path",
    setup(b) {
      b.onResolve({ filter: /\/schema\/(load|render)\.js$/ }, (args) => {
        const path = resolve(args.resolveDir, args.path);
        const key = Object.keys(configModules).find((k) => configModules[k] === path);
        if (key === undefined || !args.importer.startsWith(cli)) return undefined;
        return { path: key, namespace: "config-path" };
      });
      b.onResolve({ filter: /^config-path-loader$/ }, () => ({ path: "loader", namespace: "config-path" }));
      b.onLoad({ filter: /.*/, namespace: "config-path" }, (args) => {
        if (args.path === "loader") return { contents: configPathLoader(script.name, here), loader: "js", resolveDir: dist };
        const names = script.exported[args.path];
        const lines = [`import { configPath } from "config-path-loader";`, `const m = configPath.${args.path};`];
        for (const n of names) lines.push(n === "default" ? "export default m.default;" : `export const ${n} = m.${n};`);
        return { contents: `${lines.join("\n")}\n`, loader: "js", resolveDir: dist };
      });
    },
  };
}

const configPath = await buildConfigPathScript();

// commander requires node:child_process when it loads, for executable
// subcommands (`git-style` commands in files of their own), which stack does
// not have: that module and what it pulls in (dgram, the socket list) cost
// every command ~5 ms of start-up. Its one use, childProcess.spawn, is kept,
// through a require made when it is called; the build fails if commander's
// line is not there any more, so a new commander cannot slip by unnoticed.
const commanderChildProcess = "const childProcess = require('node:child_process');";
const lazyChildProcessInCommander = {
  name: "lazy-child-process-in-commander",
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (!source.includes(commanderChildProcess)) throw new Error(`${args.path}: commander no longer has ${JSON.stringify(commanderChildProcess)}; look again at lazyChildProcessInCommander`);
      const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };";
      return { contents: source.replace(commanderChildProcess, lazy), loader: "js" };
    });
  },
};

// ---- entry scripts: `stack run` and the engine verbs as classic scripts ----
//
// As ESM, a command that drives the engine loads ~50–100 files — resolved,
// read, compiled and linked one by one: tens of milliseconds of CPU on
// paths with speed goals (issue 3: a cold `stack run --rm` at most 3x a bare
// `runc run`; issue 5: `up -d` 5x docker-compose). So these entries and
// everything they import, lazily or not, are also built as one classic
// script each, with a code cache, and a small CommonJS loader that runs it
// (bin/stack requires the loader; bin/stack and the loaders being CommonJS,
// such a command never starts Node's ES module loader):
//
// - run-path (loader run-local.cjs): src/cli/run-local.ts, a plain `stack
//   run` read without commander, when no supervisor took it;
// - main-path (loader main-path.cjs): the whole CLI (src/cli/main.ts), for
//   the verbs that open the engine (bin/stack's list). The other commands
//   (`config`, `ps`, `logs`, …) load the ESM bundle: the few chunks they
//   need cost less than reading the whole CLI (~2 MB; measured: `ps` and
//   `config` no faster, `up -d` and `down` ~60 ms of CPU less).
//
// Lazy imports stay lazy (esbuild runs each module's top level on its first
// import). The schema stages are the config-path script's, loaded when
// first imported (a run or an `up` loads its stack file only when the model
// cache misses): ~40% less source to read. The build's cache holds what
// the script's top level compiled; V8 compiles a function a command calls
// on its first call — except that the first `stack run` that exits 0 writes
// a trained cache beside the run-path script, with what it called
// (keepCompiled below), for the next runs.
async function entryScript(base, entry, plugins) {
  const script = await classicScript(base, { entryPoints: [entry] }, [configPathModules(configPath, "__stackScriptUrl"), ...plugins]);
  const cache = await codeCache(script, (filename) => createRequire(pathToFileURL(filename)));
  return { ...script, cache };
}

const runPath = await entryScript("run-path", join(dist, "cli", "run-local.js"), []);
const mainPath = await entryScript("main-path", join(dist, "cli", "main.js"), [lazyChildProcessInCommander]);

/**
 * The CommonJS module that runs the classic script `name` with its cache and
 * exports `names` of what the script's entry exports; with `trained`, the
 * cache a command wrote beside it is preferred, and keepCompiled() writes it.
 */
function entryLoader(name, names, trained) {
  const readCache = `cachedData = readFileSync(join(__dirname, ${JSON.stringify(`${name}.cache`)}));`;
  return `// Made by scripts/bundle-cli.mjs: runs ${name}.js with its code cache.
"use strict";
const { ${trained ? "readFileSync, renameSync, rmSync, writeFileSync" : "readFileSync"} } = require("node:fs");
const { createRequire } = require("node:module");
const { join } = require("node:path");
const { pathToFileURL } = require("node:url");
const vm = require("node:vm");

const filename = join(__dirname, ${JSON.stringify(`${name}.js`)});
${
  trained
    ? `// The build's cache holds what the script's top level compiled; the first
// command that succeeds writes one that also holds what it called (below).
const trainedCache = join(__dirname, ${JSON.stringify(`${name}.trained.cache`)});
let cachedData;
let trained = false;
try {
  cachedData = readFileSync(trainedCache);
  trained = true;
} catch {
  try {
    ${readCache}
  } catch {
    // no cache: V8 compiles the script from its source
  }
}`
    : `let cachedData;
try {
  ${readCache}
} catch {
  // no cache: V8 compiles the script from its source
}`
}
const script = new vm.Script(readFileSync(filename, "latin1"), { filename, cachedData });
const loaded = { exports: {} };
script.runInThisContext()(createRequire(filename), loaded, loaded.exports, pathToFileURL(filename).href);
${names.map((n) => `exports.${n} = loaded.exports.${n};`).join("\n")}
${
  trained
    ? `
/**
 * After a command that succeeded, unless a trained cache was used: the code
 * cache of everything compiled so far — the functions the command called,
 * which V8 would otherwise compile again every time — written beside the
 * script for the next ones (atomically; a folder this user cannot write
 * keeps the build's cache).
 */
exports.keepCompiled = () => {
  if (trained && !script.cachedDataRejected) return;
  const tmp = \`\${trainedCache}.\${process.pid}.tmp\`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, trainedCache);
  } catch {
    rmSync(tmp, { force: true });
  }
};
`
    : ""
}`;
}

const result = await build({
  ...esmBundleOptions,
  entryPoints: { main: join(dist, "cli", "main.js") },
  outdir,
  plugins: [configPathModules(configPath, "import.meta.url"), lazyChildProcessInCommander, importMetaUrlRelativeTo("import.meta.url")],
});

// What bin/stack runs before the CLI loads, for the verbs that start
// containers (src/cli/prestart.ts): a small CommonJS script of its own, with
// its own copy of the few modules it needs (errors.js among them: stack's
// errors are told apart by a brand, not only by class, see src/errors.ts).
const prestart = await build({
  entryPoints: [join(dist, "cli", "prestart.js")],
  write: false,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  logLevel: "warning",
  legalComments: "none",
  minifyWhitespace: true,
  absWorkingDir: root,
});

// Several people (and tests) may run bin/stack while a build runs: each file
// is written atomically, the entry last, and chunks of earlier builds stay a
// while for processes that still run them (their names carry a content hash).
const scriptFiles = [
  { path: join(outdir, `${configPath.name}.js`), contents: configPath.source },
  { path: join(outdir, `${configPath.name}.cache`), contents: configPath.cache },
  { path: join(outdir, `${configPath.name}.no-opt.cache`), contents: configPath.noOptCache },
  // each loader after the script and the cache it names
  { path: runPath.filename, contents: runPath.source },
  { path: join(outdir, `${runPath.name}.cache`), contents: runPath.cache },
  { path: join(outdir, "run-local.cjs"), contents: entryLoader(runPath.name, ["runWithoutCommander"], true) },
  { path: mainPath.filename, contents: mainPath.source },
  { path: join(outdir, `${mainPath.name}.cache`), contents: mainPath.cache },
  { path: join(outdir, "main-path.cjs"), contents: entryLoader(mainPath.name, ["main"], false) },
  { path: join(outdir, "prestart.cjs"), contents: prestart.outputFiles[0].text },
];
writeBundle(outdir, [...scriptFiles, ...result.outputFiles], join(outdir, "main.js"), 60 * 60 * 1000);
