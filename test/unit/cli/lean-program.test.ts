// buildProgram(argv) builds only the command the line runs (src/cli/main.ts):
// the table in commands/index.ts must match what the registrations add, and
// every line must behave exactly as with the whole program: same output on
// stdout and stderr, same exit code, same help.
import { CommanderError, type Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { registrations } from "../../../src/cli/commands/index.js";
import { buildProgram, commandToBuild, formatError } from "../../../src/cli/main.js";
import { exitCodeFor, isStackError } from "../../../src/errors.js";
import { runStack } from "../../helpers/cli.js";

const argv = (...args: string[]) => ["node", "stack", ...args];
const names = (program: Command) => program.commands.map((c) => c.name());

/** The help of `command` and of all its subcommands, recursively. */
function helpTree(command: Command): string {
  return [command.helpInformation(), ...command.commands.map(helpTree)].join("\n---\n");
}

interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `args` through a program as main() does (less its process.exit), capturing what it writes. */
async function outcome(program: Command, args: string[]): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  let exitCode = 0;
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv(...args));
  } catch (e) {
    if (e instanceof CommanderError) exitCode = e.exitCode;
    else {
      stderr += formatError(e, false);
      exitCode = isStackError(e) ? exitCodeFor[e.category] : 70;
    }
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { exitCode: exitCode || Number(process.exitCode ?? 0), stdout, stderr };
}

afterEach(() => {
  process.exitCode = undefined;
});

describe("the registration table", () => {
  it("names every top-level command, in the order the registrations add them", () => {
    const all = buildProgram();
    expect(names(all).length).toBeGreaterThan(30);
    expect(registrations.flatMap((r) => r.commands)).toEqual(names(all));
  });

  it("builds each command alone, with the same flags, arguments and subcommands as in the whole program", () => {
    const all = buildProgram();
    for (const name of names(all)) {
      const lean = buildProgram(argv(name));
      expect(names(lean), name).toEqual([name]);
      expect(helpTree(lean.commands[0]!), name).toBe(helpTree(all.commands.find((c) => c.name() === name)!));
    }
  });
});

describe("commandToBuild", () => {
  const program = buildProgram([]);
  it.each([
    [["ps"], "ps"],
    [["ps", "-a", "web"], "ps"],
    [["image", "ls"], "image"],
    [["images"], "images"],
    [["-f", "a.yaml", "-p", "demo", "--dry-run", "down", "-v"], "down"],
    // a value is taken whatever it looks like, as commander does
    [["-p", "ps", "logs"], "logs"],
    [["--file", "--dry-run", "config"], "config"],
    [["--version"], null],
    [["-v"], null],
    [["-f", "a.yaml", "--version", "ps"], null],
  ] as const)("%j → %j", (args, expected) => {
    expect(commandToBuild(program, args)).toBe(expected);
  });

  it.each([
    [[]],
    [["help"]],
    [["help", "ps"]],
    [["--help"]],
    [["-h"]],
    [["ps", "--help"]],
    [["image", "help", "ls"]],
    [["image", "ls", "-h"]],
    [["nosuch"]],
    [["pss"]],
    [["--file=a.yaml", "ps"]],
    [["-fa.yaml", "ps"]],
    [["--", "ps"]],
    [["-", "ps"]],
    [["--bogus", "ps"]],
    [["-f"]],
    [["--dry-run"]],
  ] as const)("%j → every command", (args) => {
    expect(commandToBuild(program, args)).toBeUndefined();
  });
});

// Lines that end in commander (errors, help, version) or in a verb's error
// without touching the host: run through the whole program and the one built
// for them, the output must match byte for byte.
const lines: string[][] = [
  [],
  ["--help"],
  ["help"],
  ["help", "ps"],
  ["help", "image"],
  ["pss"],
  ["nosuch", "x"],
  ["--version"],
  ["-f", "x.yaml", "--version"],
  ["--version", "ps"],
  ["version", "--short"],
  ["ps", "--bogus"],
  ["ps", "--statu", "x"],
  ["ps", "--help"],
  ["port"],
  ["port", "web", "80", "extra"],
  ["exec"],
  ["up", "--pull"],
  ["image"],
  ["image", "lss"],
  ["image", "rm"],
  ["images", "--formatt", "x"],
  ["image", "ls", "--help"],
  ["-p", "demo", "logs", "--tail"],
  ["--dry-run", "stop", "--timeout"],
  ["login", "--bogus"],
  ["pull", "--bogus"],
  ["dockerfile", "parse", "--bogus"],
  ["dockerfile", "parse", "/nonexistent/Dockerfile"],
  ["-f", "/nonexistent/stack.yaml", "config"],
  ["ps", "--format", "yaml"],
  ["export"],
];

describe("a line behaves the same with only its command built", () => {
  it.each(lines.map((args) => [args]))("stack %j", async (args) => {
    const all = await outcome(buildProgram(), args);
    const lean = await outcome(buildProgram(argv(...args)), args);
    expect(lean).toEqual(all);
    expect(all.stdout + all.stderr).not.toBe("");
  });

  it("builds one command for most of these lines (else this file would compare the whole program with itself)", () => {
    const lone = lines.filter((args) => buildProgram(argv(...args)).commands.length <= 1);
    expect(lone.length).toBeGreaterThan(lines.length / 2);
  });
});

describe("bin/stack", () => {
  it.each([[["--help"]], [["help", "up"]], [["pss"]], [["ps", "--bogus"]], [["port", "web"]], [["image", "lss"]], [["--version"]]])(
    "stack %j prints what the whole program prints",
    async (args) => {
      const expected = await outcome(buildProgram(), args);
      expect(await runStack(args)).toEqual(expected);
    },
  );
});
