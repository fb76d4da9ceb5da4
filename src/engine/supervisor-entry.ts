// Which supervisor daemon a command starts: the bundle (dist/bundle-supervisor/,
// scripts/bundle-supervisor.mjs) when it is at least as new as what tsc
// emitted and STACK_NO_BUNDLE is not 1, else dist/supervisor/main.js — the
// same rule bin/stack applies to the CLI's bundle.
import { statSync } from "node:fs";
import { join } from "node:path";

/** `dist` is the installation's dist/ folder. */
export function supervisorEntry(dist: string, env: NodeJS.ProcessEnv = process.env): string {
  const tsc = join(dist, "supervisor", "main.js");
  const bundle = join(dist, "bundle-supervisor", "main.js");
  if (env.STACK_NO_BUNDLE === "1") return tsc;
  const b = statSync(bundle, { throwIfNoEntry: false });
  const t = statSync(tsc, { throwIfNoEntry: false });
  return b && (!t || b.mtimeMs >= t.mtimeMs) ? bundle : tsc;
}
