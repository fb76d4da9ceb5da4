// `stack pull [SERVICE…]` and the shared service-image walk of `stack push`:
// the images of the project's services, each pulled once, in service-name
// order. Services without `image:`, with `pull_policy: build` or `never` are
// skipped, and a failed pull of a service that has `build:` is only a
// warning, as Compose does.
import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { contextFrom } from "../context.js";

interface PullOptions {
  ignorePullFailures?: boolean;
  quiet?: boolean;
  policy?: string;
  includeDeps?: boolean;
}

export function registerPull(program: Command): void {
  program
    .command("pull")
    .description("Pull the images of the project's services")
    .argument("[services...]", "only these services (default: all)")
    .option("--ignore-pull-failures", "report failed pulls and go on")
    .option("-q, --quiet", "no progress output")
    .option("--policy <policy>", "always (default) or missing: pull only images not in the local store")
    .option("--include-deps", "also pull the services the named ones depend on")
    .action(async (services: string[], opts: PullOptions, command: Command) => {
      const ctx = contextFrom(command);
      if (opts.policy !== undefined && opts.policy !== "always" && opts.policy !== "missing") {
        throw new InvalidInputError(`--policy: ${JSON.stringify(opts.policy)} is not a pull policy`, { hint: "use always or missing" });
      }
      const { loadProject } = await import("../project.js");
      const { model } = await loadProject(ctx, { services });
      const { ImageStore } = await import("../../image/store/index.js");
      const { normalizeReference } = await import("../../image/reference.js");
      const { pullWithProgress } = await import("./image-registry.js");
      const store = new ImageStore(ctx.stateDir, { warn: (m) => ctx.warn(m) });
      const names = services.length > 0 && !opts.includeDeps ? [...services].sort() : Object.keys(model.services).sort();
      const seen = new Set<string>();
      let failures = 0;
      for (const name of names) {
        const service = model.services[name];
        if (!service?.image) continue;
        if (service.pull_policy === "never" || service.pull_policy === "build") {
          if (!opts.quiet) ctx.stderr.write(`Skipping ${name}: pull_policy is ${service.pull_policy}\n`);
          continue;
        }
        const key = `${normalizeReference(service.image)} ${service.platform ?? ""}`;
        if (seen.has(key)) continue;
        seen.add(key);
        if (opts.policy === "missing" && (await store.resolve(service.image))) continue;
        if (!opts.quiet) ctx.stdout.write(`Pulling ${name} (${service.image})\n`);
        try {
          await pullWithProgress(ctx, service.image, { ...(service.platform ? { platform: service.platform } : {}), quiet: opts.quiet });
        } catch (e) {
          // A service that can be built need not exist in the registry yet, as with Compose.
          if (service.build) {
            ctx.warn(`pull of ${name} (${service.image}) failed; it will be built: ${(e as Error).message}`);
            continue;
          }
          if (!opts.ignorePullFailures) throw e;
          failures++;
          ctx.warn(`pull of ${name} (${service.image}) failed: ${(e as Error).message}`);
        }
      }
      if (failures > 0 && !opts.quiet) ctx.stderr.write(`${failures} pull(s) failed (ignored)\n`);
    });
}
