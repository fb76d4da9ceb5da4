import type { Command } from "commander";
import { InvalidInputError, NotFoundError } from "../../errors.js";
import { contextFrom } from "../context.js";

interface ConfigOptions {
  format: string;
  services?: boolean;
  volumes?: boolean;
  networks?: boolean;
  profiles?: boolean;
  images?: boolean;
  quiet?: boolean;
  hash?: string;
  interpolate: boolean;
  output?: string;
}

export function registerConfig(program: Command): void {
  program
    .command("config")
    .description("Validate and print the stack file in canonical form")
    .argument("[services...]", "print only these services")
    .option("--format <format>", "yaml or json", "yaml")
    .option("--services", "print the service names, one per line")
    .option("--volumes", "print the volume names, one per line")
    .option("--networks", "print the network names, one per line")
    .option("--profiles", "print the profile names, one per line")
    .option("--images", "print the image of each service, one per line")
    .option("-q, --quiet", "only validate; print nothing")
    .option("--hash <services>", 'print "SERVICE HASH" for these services (comma list, or "*")')
    .option("--no-interpolate", "keep ${VAR} as written")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .action(async (services: string[], opts: ConfigOptions, command: Command) => {
      if (opts.format !== "yaml" && opts.format !== "json") {
        throw new InvalidInputError(`--format: "${opts.format}" is not a config format`, { hint: "use yaml or json" });
      }
      const ctx = contextFrom(command);
      // One cold pass over the file, then exit: the optimizing compiler would only cost CPU.
      const { keepYoungGenerationSmall, turnOptimizerOff } = await import("../../fs/v8-tuning.js");
      turnOptimizerOff();
      const { loadProject } = await import("../project.js");
      // The stages first: in the bundle, this import compiles them with their
      // V8 code cache, which V8 accepts only under the flags it was made with;
      // keepYoungGenerationSmall changes them.
      await import("../../schema/load.js");
      keepYoungGenerationSmall();
      const { model } = await loadProject(ctx, { interpolate: opts.interpolate, services: services.length > 0 ? services : undefined, cache: false });
      if (opts.quiet) return;
      const render = await import("../../schema/render.js");
      const lines = (items: string[]) => [items.map((l) => `${l}\n`).join("")];
      // The text in pieces, written one after the other (see canonicalYamlChunks).
      let text: string[];
      if (opts.services) text = lines(Object.keys(model.services).sort());
      else if (opts.volumes) text = lines(Object.keys(model.volumes).sort());
      else if (opts.networks) text = lines(Object.keys(model.networks).sort());
      else if (opts.profiles) text = lines(render.definedProfiles(model));
      else if (opts.images) text = lines(render.serviceImages(model).map((i) => i.image));
      else if (opts.hash !== undefined) {
        const { configHash } = await import("../../schema/hash.js");
        const wanted = opts.hash.trim() === "*" ? Object.keys(model.services).sort() : opts.hash.split(",").map((s) => s.trim()).filter((s) => s !== "");
        for (const name of wanted) {
          if (!Object.hasOwn(model.services, name)) {
            throw new NotFoundError(`--hash: no such service: "${name}"`, { hint: `the services are: ${Object.keys(model.services).sort().join(", ") || "(none)"}` });
          }
        }
        text = lines(wanted.map((name) => `${name} ${configHash(model.services[name]!)}`));
      } else {
        const shown = services.length > 0 ? { ...model, services: withDependencies(model.services, services) } : model;
        text = render.renderModelChunks(shown, opts.format, opts.interpolate);
      }
      if (opts.output !== undefined) {
        const { writeFileSync } = await import("node:fs");
        const { resolve } = await import("node:path");
        writeFileSync(resolve(ctx.cwd, opts.output), text.join(""));
      } else {
        for (const chunk of text) ctx.stdout.write(chunk);
      }
    });
}

/** The named services and, transitively, the enabled services they depend on (as `up SERVICE` would start them). */
function withDependencies<T extends { depends_on: Record<string, unknown> }>(all: Record<string, T>, named: string[]): Record<string, T> {
  const picked = new Set<string>();
  const pending = [...named];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (picked.has(name) || !Object.hasOwn(all, name)) continue;
    picked.add(name);
    pending.push(...Object.keys(all[name]!.depends_on));
  }
  return Object.fromEntries([...picked].sort().map((n) => [n, all[n]!]));
}
