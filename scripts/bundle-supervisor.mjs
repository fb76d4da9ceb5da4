// Bundles the supervisor daemon that tsc emitted (dist/supervisor/main.js)
// into dist/bundle-supervisor/: what it loads at start-up in a few files
// instead of ~56 (its own modules, the network layer's DNS, the runtime), and
// one chunk per lazily imported part (live rebuilds load the builder only when
// a rebuild runs). Every `up` after a `down` starts a supervisor, and its
// start-up runs beside the containers' starts on the same two cores.
//
// src/engine/wiring.ts starts this bundle when it is at least as new as
// dist/supervisor/main.js (so a tsc run without this step never starts stale
// code) and STACK_NO_BUNDLE is not 1; otherwise the files tsc emitted.
//
// Each module keeps its own `import.meta.url` (rewritten to the URL of the
// file tsc emitted), so paths computed from it mean what they mean unbundled.
// Chunks of earlier builds stay for a week: a supervisor runs for as long as
// its project does and may load a lazy chunk of its own build at any time.
import { build } from "esbuild";
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const outdir = join(dist, "bundle-supervisor");

const keepImportMetaUrl = {
  name: "keep-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\/dist\/.*\.js$/ }, async (args) => {
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
  entryPoints: { main: join(dist, "supervisor", "main.js") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["yaml"],
  // CommonJS packages (dns-packet, tar-stream …) call require() for node: modules.
  banner: { js: 'import { createRequire as __stackCreateRequire } from "node:module"; const require = __stackCreateRequire(import.meta.url);' },
  plugins: [keepImportMetaUrl],
  logLevel: "warning",
  legalComments: "none",
});

// Written atomically, chunks first and the entry last.
mkdirSync(outdir, { recursive: true });
const entry = join(outdir, "main.js");
const written = new Set();
for (const file of [...result.outputFiles].sort((a, b) => (a.path === entry) - (b.path === entry))) {
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
  written.add(file.path);
}
const week = 7 * 24 * 60 * 60 * 1000;
for (const name of readdirSync(outdir)) {
  const path = join(outdir, name);
  if (!written.has(path) && Date.now() - statSync(path).mtimeMs > week) rmSync(path, { force: true });
}
