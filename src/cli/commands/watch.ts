// `stack watch`: live sync and rebuild from the services' develop.watch rules
// (docs/watch.md). Implementation in ../verbs/watch.ts, loaded per command.
import type { Command } from "commander";
import { contextFrom } from "../context.js";

export function registerWatch(program: Command): void {
  program
    .command("watch")
    .description("Watch the services' source files and sync, restart or rebuild on change (Ctrl-C stops watching; containers keep running)")
    .argument("[services...]")
    .option("--no-up", "do not start the stack first (`up -d`)")
    .option("--rebuild-on-change", "services with build: and no develop section rebuild on any change in their build context")
    .option("-d, --detach", "watch in the background: the project's supervisor keeps watching after this command exits")
    .option("--stop", "stop the background watch")
    .action(async (services: string[], o: Record<string, unknown>, command: Command) => {
      const { runWatch } = await import("../verbs/watch.js");
      const code = await runWatch(contextFrom(command), services, o);
      if (code !== 0) process.exitCode = code;
    });
}
