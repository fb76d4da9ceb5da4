// The CLI entry point: the only place that calls process.exit and maps errors
// to exit codes and one clear line (a stack trace only with STACK_DEBUG=1).
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { exitCodeFor, isStackError } from "../errors.js";
import { registrations } from "./commands/index.js";
import { formatError } from "./format-error.js";

export { formatError };

/** The installed stack's version, from its package.json (`stack -v`, `stack version`). */
export function stackVersion(): string {
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * The program with every command, or, given the command line (`argv` as in
 * process.argv), with only what that line can reach: commander takes ~20 ms
 * of CPU to build all ~40 commands, more than many of them take to run.
 */
export function buildProgram(argv?: readonly string[]): Command {
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
    process.stdout.write(`stack version ${stackVersion()}\n`);
    throw new CommanderError(0, "stack.version", "");
  });
  const wanted = argv === undefined ? undefined : commandToBuild(program, argv.slice(2));
  for (const { commands, register } of registrations) {
    if (wanted === undefined) register(program);
    else if (wanted !== null && commands.includes(wanted)) register(program, wanted);
  }
  return program;
}

/**
 * The one top-level command `args` (what follows `node bin/stack`) runs, read
 * the way commander reads the global options before it: null when a global
 * -v/--version answers before any command is looked up; undefined (build them
 * all) for no command, `help`, -h/--help anywhere, an unknown command
 * (commander's "did you mean" and the command list need every command), and
 * anything unusual (`--file=x`, `-fx`, `--`, `-`), which then behaves as
 * it always did.
 */
export function commandToBuild(program: Command, args: readonly string[]): string | null | undefined {
  let version = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("-")) {
      if (version) return null;
      if (!registrations.some((r) => r.commands.includes(arg))) return undefined;
      const rest = args.slice(i + 1);
      return rest.some((a) => a === "-h" || a === "--help" || a === "help") ? undefined : arg;
    }
    const option = program.options.find((o) => o.short === arg || o.long === arg);
    if (option === undefined || option.optional) return undefined;
    if (option.required) {
      // commander takes the next argument as the value, whatever it looks like.
      if (i + 1 === args.length) return undefined;
      i++;
    } else if (option.long === "--version") {
      version = true;
    }
  }
  return version ? null : undefined;
}


export async function main(argv: string[]): Promise<void> {
  const debug = process.env.STACK_DEBUG === "1";
  const program = buildProgram(argv);
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
