// Runs the built CLI (bin/stack → dist/) as a user would, with the state and
// run dirs pointed at the given folders.
import { execa, type Options } from "execa";
import { fileURLToPath } from "node:url";

export const stackBin = fileURLToPath(new URL("../../bin/stack", import.meta.url));

export interface StackRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runStack(args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string; timeout?: number } = {}): Promise<StackRun> {
  const execaOptions: Options = {
    cwd: options.cwd,
    env: { ...options.env },
    input: options.input,
    reject: false,
    timeout: options.timeout ?? 60_000,
    stripFinalNewline: false,
  };
  const r = await execa(process.execPath, [stackBin, ...args], execaOptions);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
