import type { Command } from "commander";
import { resolve } from "node:path";
import { NotFoundError } from "../../errors.js";
import { contextFrom } from "../context.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function registerDockerfile(program: Command): void {
  const dockerfile = program.command("dockerfile").description("Inspect Dockerfiles the way stack builds them");
  dockerfile
    .command("parse")
    .description("Print the instructions of a Dockerfile as JSON")
    .option("-f, --file <file>", "the Dockerfile (- for stdin)", "Dockerfile")
    .action(async (opts: { file: string }, command: Command) => {
      const ctx = contextFrom(command);
      const label = opts.file === "-" ? "Dockerfile" : opts.file;
      let text: string;
      if (opts.file === "-") text = await readStdin();
      else {
        try {
          const { readFile } = await import("node:fs/promises");
          text = await readFile(resolve(ctx.cwd, opts.file), "utf8");
        } catch (e) {
          throw new NotFoundError(`cannot read Dockerfile "${opts.file}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: "pass the Dockerfile with -f FILE (- for stdin)", cause: e });
        }
      }
      const { parseDockerfile } = await import("../../image/dockerfile/parser.js");
      const { parseInstructions } = await import("../../image/dockerfile/instructions.js");
      const { renderNodes } = await import("../../image/dockerfile/render.js");
      const parsed = parseDockerfile(text, label);
      parseInstructions(parsed, label);
      for (const w of parsed.warnings) ctx.warn(w.replace(/^Dockerfile:/, `${label}:`));
      ctx.stdout.write(renderNodes(parsed.nodes) + "\n");
    });
}
