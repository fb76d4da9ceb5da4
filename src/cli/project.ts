// Loads the project's stack file(s) from the global flags and the environment
// captured in the CLI context; prints the loader's warnings once.
import { readFileSync } from "node:fs";
import type { CliContext } from "./context.js";
import type { StackModel } from "../schema/model.js";

export async function loadProject(ctx: CliContext, options: { services?: string[]; interpolate?: boolean } = {}): Promise<{ model: StackModel }> {
  const { loadStack } = await import("../schema/load.js");
  const { model, warnings } = await loadStack({
    files: ctx.globals.file,
    cwd: ctx.cwd,
    env: ctx.env,
    projectName: ctx.globals.projectName,
    projectDirectory: ctx.globals.projectDirectory,
    profiles: ctx.globals.profile,
    envFiles: ctx.globals.envFile,
    interpolate: options.interpolate ?? true,
    services: options.services,
    readStdin: () => readFileSync(0, "utf8"),
  });
  for (const w of warnings) ctx.warn(w);
  return { model };
}
