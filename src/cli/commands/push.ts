// `stack push [SERVICE…]`: pushes the local image named by each service's
// `image:` (built or tagged beforehand), once per name, in service order.
import type { Command } from "commander";
import { contextFrom } from "../context.js";

export function registerPush(program: Command): void {
  program
    .command("push")
    .description("Push the images of the project's services")
    .argument("[services...]", "only these services (default: all with an image name)")
    .option("--ignore-push-failures", "report failed pushes and go on")
    .option("-q, --quiet", "no progress output")
    .action(async (services: string[], opts: { ignorePushFailures?: boolean; quiet?: boolean }, command: Command) => {
      const ctx = contextFrom(command);
      const { loadProject } = await import("../project.js");
      const { model } = await loadProject(ctx, { services });
      const { normalizeReference } = await import("../../image/reference.js");
      const { pushWithProgress } = await import("./image-registry.js");
      const names = services.length > 0 ? [...services].sort() : Object.keys(model.services).sort();
      const seen = new Set<string>();
      let failures = 0;
      for (const name of names) {
        const image = model.services[name]?.image;
        if (!image) continue;
        const key = normalizeReference(image);
        if (seen.has(key)) continue;
        seen.add(key);
        if (!opts.quiet) ctx.stdout.write(`Pushing ${name} (${image})\n`);
        try {
          await pushWithProgress(ctx, image, { quiet: opts.quiet });
        } catch (e) {
          if (!opts.ignorePushFailures) throw e;
          failures++;
          ctx.warn(`push of ${name} (${image}) failed: ${(e as Error).message}`);
        }
      }
      if (failures > 0 && !opts.quiet) ctx.stderr.write(`${failures} push(es) failed (ignored)\n`);
    });
}
