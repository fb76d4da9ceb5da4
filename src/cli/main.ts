// The CLI entry point: the only place that calls process.exit and maps errors
// to exit codes and one clear line (a stack trace only with STACK_DEBUG=1).
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { exitCodeFor, isStackError } from "../errors.js";
import { registrations } from "./commands/index.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function buildProgram(): Command {
  const program = new Command("stack");
  program
    .description("Compose-style dev stacks on Linux, without a Docker daemon")
    .option("-f, --file <file>", "stack file (repeatable; - for stdin)", collect, [])
    .option("-p, --project-name <name>", "project name")
    .option("--project-directory <dir>", "project directory (default: the first stack file's folder)")
    .option("--profile <profile>", "activate a profile (repeatable)", collect, [])
    .option("--env-file <file>", "environment file (repeatable)", collect, [])
    .option("--progress <mode>", "progress output: auto, tty, plain, json, quiet")
    .option("--ansi <when>", "ANSI control characters: never, always, auto")
    .option("--dry-run", "show what would be done, change nothing")
    .option("-v, --version", "show the stack version (as `stack version --short` would, like `docker compose --version`)")
    .showHelpAfterError("(run `stack help` for the list of commands)")
    .enablePositionalOptions()
    .exitOverride();
  program.on("option:version", () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    process.stdout.write(`stack version ${version}\n`);
    throw new CommanderError(0, "stack.version", "");
  });
  for (const register of registrations) register(program);
  return program;
}

export function formatError(e: unknown, debug: boolean): string {
  if (isStackError(e)) {
    const lines: string[] = [];
    if (e.problems.length > 0) {
      lines.push(...e.problems);
      if (e.message) lines.push(e.message);
    } else {
      lines.push(e.message);
    }
    if (e.hint) lines.push(`hint: ${e.hint}`);
    if (debug && e.stack) lines.push(e.stack);
    return lines.map((l) => `${l}\n`).join("").replace(/^/, "error: ");
  }
  const err = e as Error;
  const msg = `error: unexpected failure: ${err?.message ?? String(e)}\nhint: this is a bug in stack; please report it (STACK_DEBUG=1 shows the trace)\n`;
  return debug && err?.stack ? msg + err.stack + "\n" : msg;
}

export async function main(argv: string[]): Promise<void> {
  const debug = process.env.STACK_DEBUG === "1";
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message (help, version, usage error).
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(formatError(e, debug));
    process.exitCode = isStackError(e) ? exitCodeFor[e.category] : 70;
  }
  // A verb is done when its action returns: connections it left open (a
  // followed log stream, a supervisor socket) must not keep the CLI alive.
  // Writes to a pipe whose buffer is full (64 KiB) are queued, not written:
  // exit only once both streams have handed everything to the OS, or
  // `stack config | less` would get the first 64 KiB.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(process.exitCode ?? 0);
}

/** Resolves when everything written to `stream` so far has been flushed, or the reader went away (`| head`: EPIPE). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    stream.once("error", () => resolve());
    stream.write("", () => resolve());
  });
}
