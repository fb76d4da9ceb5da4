import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { contextFrom } from "../context.js";

const formats = ["mermaid", "dot", "json"] as const;

export function registerGraph(program: Command): void {
  program
    .command("graph")
    .description("Print the service dependency graph")
    .option("--format <format>", "mermaid, dot or json", "mermaid")
    .action(async (opts: { format: string }, command: Command) => {
      if (!(formats as readonly string[]).includes(opts.format)) {
        throw new InvalidInputError(`--format: "${opts.format}" is not a graph format`, { hint: `use one of ${formats.join(", ")}` });
      }
      const ctx = contextFrom(command);
      const { loadProject } = await import("../project.js");
      const { model } = await loadProject(ctx);
      const { buildGraph } = await import("../../graph/graph.js");
      const { renderGraph } = await import("../../graph/render.js");
      const graph = buildGraph(model);
      for (const w of graph.warnings) ctx.warn(w);
      ctx.stdout.write(renderGraph(graph, opts.format as (typeof formats)[number]));
    });
}
