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
import { build } from "esbuild";
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const outdir = join(dist, "bundle");

/** `import.meta.url` of a file under dist/, written relative to the chunk that will hold it (chunks sit in dist/bundle/). */
const keepImportMetaUrl = {
  name: "keep-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\/dist\/.*\.js$/ }, async (args) => {
      const { readFile } = await import("node:fs/promises");
      let contents = await readFile(args.path, "utf8");
      if (contents.includes("import.meta.url")) {
        const rel = relative(outdir, args.path).split("\\").join("/");
        contents = contents.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`);
      }
      return { contents, loader: "js" };
    });
  },
};

const result = await build({
  write: false,
  entryPoints: { main: join(dist, "cli", "main.js") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["yaml"],
  // CommonJS packages inside an ESM bundle call require() for node: modules.
  banner: { js: 'import { createRequire as __stackCreateRequire } from "node:module"; const require = __stackCreateRequire(import.meta.url);' },
  plugins: [keepImportMetaUrl],
  logLevel: "warning",
  legalComments: "none",
});

// Several people (and tests) may run bin/stack while a build runs: each file
// is written atomically, the entry last, and chunks of earlier builds stay a
// while for processes that still run them (their names carry a content hash).
mkdirSync(outdir, { recursive: true });
const entry = join(outdir, "main.js");
const written = new Set();
const files = [...result.outputFiles].sort((a, b) => (a.path === entry) - (b.path === entry));
for (const file of files) {
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
  written.add(file.path);
}
const hour = 60 * 60 * 1000;
for (const name of readdirSync(outdir)) {
  const path = join(outdir, name);
  if (!written.has(path) && Date.now() - statSync(path).mtimeMs > hour) rmSync(path, { force: true });
}
