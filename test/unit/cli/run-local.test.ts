// runWithoutCommander (src/cli/run-local.ts, which bin/stack loads for a
// `stack run` no supervisor took): a plain `stack run` line runs without
// commander, with the same errors and exit codes as through it; any other
// line is left to commander (undefined).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { buildProgram, formatError } from "../../../src/cli/main.js";
import { runWithoutCommander } from "../../../src/cli/run-local.js";
import { exitCodeFor, isStackError } from "../../../src/errors.js";

const argv = (...args: string[]) => ["node", "stack", ...args];

async function captured(work: () => Promise<number | undefined>): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    return { exitCode: await work(), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The line through commander, as main() runs it (less its process.exit). */
async function viaCommander(args: string[]): Promise<number> {
  process.exitCode = undefined;
  try {
    await buildProgram(argv(...args)).parseAsync(argv(...args));
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    process.stderr.write(formatError(e, false));
    return isStackError(e) ? exitCodeFor[e.category] : 70;
  } finally {
    process.exitCode = undefined;
  }
}

describe("runWithoutCommander", () => {
  let dir: string;
  const saved = { state: process.env.STACK_STATE_DIR, run: process.env.STACK_RUN_DIR };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-run-local-"));
    process.env.STACK_STATE_DIR = join(dir, "state");
    process.env.STACK_RUN_DIR = join(dir, "run");
    writeFileSync(join(dir, "compose.yaml"), "services:\n  app:\n    image: none/such:1\n    network_mode: none\n");
  });
  afterAll(() => {
    for (const [k, v] of [["STACK_STATE_DIR", saved.state], ["STACK_RUN_DIR", saved.run]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const leftToCommander = [
    ["ps"],
    ["run"],
    ["run", "--bogus", "app"],
    ["run", "--rm", "app", "--help"],
    ["--dry-run", "run", "app"],
    ["-v", "run", "app"],
    ["run", "--env=A=1", "app"],
  ];
  test.each(leftToCommander)("%j is left to commander", async (...args) => {
    expect(await runWithoutCommander(args)).toBeUndefined();
  });

  test("errors are printed and mapped to exit codes as through commander", async () => {
    const lines = [
      ["-f", join(dir, "missing.yaml"), "run", "--rm", "-T", "app", "true"],
      ["-f", join(dir, "compose.yaml"), "run", "--rm", "-T", "nosuch", "true"],
      ["-f", join(dir, "compose.yaml"), "run", "--rm", "-T", "-e", "=x", "app", "true"],
      ["-f", join(dir, "compose.yaml"), "-p", "localrun", "run", "--rm", "-T", "-v", "nocolon", "app", "true"],
    ];
    for (const args of lines) {
      const local = await captured(() => runWithoutCommander(args));
      const commander = await captured(() => viaCommander(args));
      expect(local.exitCode, args.join(" ")).toBe(1);
      expect(local).toEqual(commander);
      expect(local.stderr).toMatch(/^error: /);
    }
  });
});
