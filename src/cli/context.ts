// What every command receives from the global flags and the environment.
// Only cli/ reads process.env: it is captured here once and passed down.
import type { Command } from "commander";

export interface GlobalOptions {
  file: string[];
  projectName?: string;
  projectDirectory?: string;
  profile: string[];
  envFile: string[];
  progress?: string;
  ansi?: string;
  dryRun?: boolean;
}

export interface CliContext {
  globals: GlobalOptions;
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Paths of stack's state: STACK_STATE_DIR and STACK_RUN_DIR (tests point them at temp folders). */
  stateDir: string;
  runDir: string;
  /** Print one warning line on stderr. */
  warn(message: string): void;
}

export function contextFrom(command: Command): CliContext {
  let root = command;
  while (root.parent) root = root.parent;
  const o = root.opts();
  return contextOf({
    file: o.file ?? [],
    projectName: o.projectName,
    projectDirectory: o.projectDirectory,
    profile: o.profile ?? [],
    envFile: o.envFile ?? [],
    progress: o.progress,
    ansi: o.ansi,
    dryRun: o.dryRun,
  });
}

/** The context of global options read without commander (run-local.ts). */
export function contextOf(globals: GlobalOptions): CliContext {
  const env = process.env;
  return {
    globals,
    env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    stateDir: env.STACK_STATE_DIR || "/var/lib/stack",
    runDir: env.STACK_RUN_DIR || "/run/stack",
    warn(message: string) {
      process.stderr.write(`WARN ${message}\n`);
    },
  };
}
