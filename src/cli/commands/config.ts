import type { Command } from "commander";
import { UnsupportedError } from "../../errors.js";

export function registerConfig(program: Command): void {
  program
    .command("config")
    .description("Validate and print the stack file in canonical form")
    .action(() => {
      throw new UnsupportedError("`stack config` is being built (issue 2)");
    });
}
