// What the CLI bundle (scripts/bundle-cli.mjs) and the supervisor bundle
// (scripts/bundle-supervisor.mjs) build and write alike.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";

/**
 * esbuild plugin: each file under dist/ keeps its own `import.meta.url`,
 * rewritten to the URL of the file tsc emitted, relative to `base` (a JS
 * expression for the URL of the bundle file that will hold it, in `outdir`),
 * so paths computed from it mean what they mean unbundled.
 */
export function importMetaUrlRelativeTo(outdir, base) {
  return {
    name: "keep-import-meta-url",
    setup(b) {
      b.onLoad({ filter: /\/dist\/.*\.js$/ }, async (args) => {
        let contents = await readFile(args.path, "utf8");
        if (contents.includes("import.meta.url")) {
          const rel = relative(outdir, args.path).split("\\").join("/");
          contents = contents.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, ${base}).href`);
        }
        return { contents, loader: "js" };
      });
    },
  };
}

/** esbuild options of a code-split ESM bundle for Node 20 (lazy `import()` stays lazy). */
export const esmBundleOptions = {
  write: false,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["yaml"],
  // CommonJS packages inside an ESM bundle call require() for node: modules.
  banner: { js: 'import { createRequire as __stackCreateRequire } from "node:module"; const require = __stackCreateRequire(import.meta.url);' },
  logLevel: "warning",
  legalComments: "none",
};

/**
 * Writes `files` ({path, contents}) into `outdir`, each atomically and
 * `entry` last, so a process starting meanwhile loads one build or the other;
 * files of earlier builds go once older than `keepMs` (processes still
 * running them may load their lazy chunks until then).
 */
export function writeBundle(outdir, files, entry, keepMs) {
  mkdirSync(outdir, { recursive: true });
  const written = new Set();
  for (const file of [...files].sort((a, b) => (a.path === entry) - (b.path === entry))) {
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
    written.add(file.path);
  }
  for (const name of readdirSync(outdir)) {
    const path = join(outdir, name);
    if (!written.has(path) && Date.now() - statSync(path).mtimeMs > keepMs) rmSync(path, { force: true });
  }
}
