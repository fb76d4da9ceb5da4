// `stack build [SERVICE…]`: builds the images of services that have `build:`.
// The implementation (src/image/build/build-command.ts) is imported lazily.
import type { Command } from "commander";
import { contextFrom } from "../context.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerBuild(program: Command): void {
  program
    .command("build")
    .description("Build the images of services with a build section")
    .argument("[services...]", "only these services")
    .option("--no-cache", "do not use the build cache")
    .option("--pull", "always look for a newer version of the base images")
    .option("--build-arg <KEY=VALUE>", "set a build arg (repeatable)", collect, [])
    .option("-q, --quiet", "print nothing but errors")
    .action(async (services: string[], opts: { cache: boolean; pull?: boolean; buildArg: string[]; quiet?: boolean }, command: Command) => {
      const ctx = contextFrom(command);
      const { runBuildCommand } = await import("../../image/build/build-command.js");
      await runBuildCommand(ctx, services, { noCache: !opts.cache, pull: opts.pull ?? false, buildArgs: opts.buildArg, quiet: opts.quiet ?? false });
    });
}
