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
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { esmBundleOptions, importMetaUrlRelativeTo, writeBundle } from "./bundle-common.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const outdir = join(dist, "bundle-supervisor");

const result = await build({
  ...esmBundleOptions,
  entryPoints: { main: join(dist, "supervisor", "main.js") },
  outdir,
  plugins: [importMetaUrlRelativeTo(outdir, "import.meta.url")],
});
writeBundle(outdir, result.outputFiles, join(outdir, "main.js"), 7 * 24 * 60 * 60 * 1000);
