import type { Command } from "commander";
import { readFileSync } from "node:fs";

export function registerVersion(program: Command): void {
  program
    .command("version")
    .description("Show the stack version")
    .option("--format <format>", "pretty or json", "pretty")
    .option("--short", "print only the version number")
    .action((opts: { format: string; short?: boolean }) => {
      const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
      if (opts.short) process.stdout.write(`${pkg.version}\n`);
      else if (opts.format === "json") process.stdout.write(JSON.stringify({ version: pkg.version, node: process.version }) + "\n");
      else process.stdout.write(`stack version ${pkg.version} (node ${process.version})\n`);
    });
}
