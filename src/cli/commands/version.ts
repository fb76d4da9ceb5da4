import type { Command } from "commander";

export function registerVersion(program: Command): void {
  program
    .command("version")
    .description("Show the stack version")
    .option("--format <format>", "pretty or json", "pretty")
    .option("--short", "print only the version number")
    .action(async (opts: { format: string; short?: boolean }) => {
      // main.js is loaded already (it runs this); imported here, not at the top, as it imports this file.
      const version = (await import("../main.js")).stackVersion();
      if (opts.short) process.stdout.write(`${version}\n`);
      else if (opts.format === "json") process.stdout.write(JSON.stringify({ version, node: process.version }) + "\n");
      else process.stdout.write(`stack version ${version} (node ${process.version})\n`);
    });
}
