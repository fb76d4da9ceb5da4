// What `stack build` does: load the project, pick the services with a build
// section (all, or the ones named), build them side by side (bounded by the
// cores), and print one line per finished step with its time — plain lines
// when stdout is not a terminal or --progress=plain, JSON lines with
// --progress=json, nothing with -q / --progress=quiet.
import { availableParallelism } from "node:os";
import type { CliContext } from "../../cli/context.js";
import { InvalidInputError, NotFoundError } from "../../errors.js";
import { buildImage, type BuildProgress } from "./builder.js";
import { buildRequestOf } from "./request.js";

export interface BuildCommandOptions {
  noCache: boolean;
  pull: boolean;
  buildArgs: string[];
  quiet: boolean;
}

export function parseBuildArgs(values: string[], env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    const key = i < 0 ? v : v.slice(0, i);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new InvalidInputError(`--build-arg ${JSON.stringify(v)}: ${JSON.stringify(key)} is not a valid name`, { hint: "write --build-arg KEY=VALUE" });
    // `--build-arg KEY` takes the value from the environment, as docker does.
    const value = i < 0 ? env[key] : v.slice(i + 1);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

export function formatProgress(service: string, e: BuildProgress): string | undefined {
  if (e.type === "warning") return `[${service}] WARN ${e.message}`;
  if (e.type === "output") return `[${service}] #${e.n} ${e.line}`;
  if (e.status === "running") return undefined;
  const timing = e.status === "cached" ? "CACHED" : `${(e.ms / 1000).toFixed(2)}s`;
  return `[${service}] [${e.stage} ${e.n}/${e.total}] ${e.text} ${timing}`;
}

export async function runBuildCommand(ctx: CliContext, services: string[], opts: BuildCommandOptions): Promise<void> {
  // A fully cached build is one cold pass (load, check each step, exit): V8's optimizing compiler would
  // only take CPU on its own thread (measured on bench/build: ~70 million instructions, a quarter of the
  // CPU a cached `stack build -q` spends beyond node's start). It is
  // turned back on when a step misses the cache: writing layers and running steps are loops it pays off for.
  // Off before the project loads, so the schema stages' code cache made for that setting is the one used.
  const { turnOptimizerOff, turnOptimizerOn } = await import("../../fs/v8-tuning.js");
  turnOptimizerOff();
  const onCacheMiss = turnOptimizerOn;
  const { loadProject } = await import("../../cli/project.js");
  const { model } = await loadProject(ctx, services.length > 0 ? { services } : {});
  for (const s of services) if (!model.services[s]) throw new NotFoundError(`no such service: ${JSON.stringify(s)}`, { hint: `services: ${Object.keys(model.services).sort().join(", ")}` });
  const chosen = (services.length > 0 ? services : Object.keys(model.services).sort()).map((s) => model.services[s]!).filter((s) => s.build !== undefined);
  const mode = opts.quiet ? "quiet" : (ctx.globals.progress ?? "auto");
  const args = parseBuildArgs(opts.buildArgs, ctx.env);
  const print = (line: string) => ctx.stderr.write(`${line}\n`);
  const requests = chosen.map((s) => ({ service: s.name, req: buildRequestOf(model, s, { noCache: opts.noCache || undefined, pull: opts.pull || undefined, args }, ctx.env) }));
  for (const r of requests) {
    if (opts.noCache) r.req.noCache = true;
    if (opts.pull) r.req.pull = true;
  }
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < requests.length && failure === undefined) {
      const { service, req } = requests[next++]!;
      const started = Date.now();
      try {
        const result = await buildImage({ stateDir: ctx.stateDir, runDir: ctx.runDir, onCacheMiss }, req, (e) => {
          if (mode === "quiet") return;
          if (mode === "json") {
            ctx.stdout.write(`${JSON.stringify({ service, ...e })}\n`);
            return;
          }
          const line = formatProgress(service, e);
          if (line !== undefined) print(line);
        });
        if (mode !== "quiet" && mode !== "json") print(`[${service}] built ${result.tags.join(", ")} (${result.id.slice(7, 19)}) in ${((Date.now() - started) / 1000).toFixed(2)}s`);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(availableParallelism(), requests.length)) }, worker));
  if (failure !== undefined) throw failure;
}
