// `stack [global options] run [options] SERVICE [COMMAND...]` read without
// commander, for the warm `run` (run-handoff.ts on the client, and
// src/supervisor/run-host.ts, which re-reads the same words). It accepts only
// the plain spellings of the options that src/cli/commands/exec.ts and
// main.ts declare; anything else (an unknown or combined option, `--x=y`,
// `--`, help, an option value that starts with "-") answers undefined, and
// the command line goes to commander as it always did, with its own errors.
import type { GlobalOptions } from "./context.js";
import type { RunFlags } from "./verbs/exec.js";

export interface RunInvocation {
  globals: GlobalOptions;
  service: string;
  command: string[];
  flags: RunFlags;
}

type Target = { kind: "global" | "run"; key: string; many?: boolean; value?: unknown };

const GLOBAL: Record<string, Target> = {};
for (const [names, key, many] of [
  [["-f", "--file"], "file", true],
  [["-p", "--project-name"], "projectName", false],
  [["--project-directory"], "projectDirectory", false],
  [["--profile"], "profile", true],
  [["--env-file"], "envFile", true],
  [["--progress"], "progress", false],
  [["--ansi"], "ansi", false],
] as const) {
  for (const n of names) GLOBAL[n] = { kind: "global", key, many };
}

const RUN: Record<string, Target> = {};
for (const [names, key, value] of [
  [["--rm"], "rm", true],
  [["-d", "--detach"], "detach", true],
  [["-P", "--service-ports"], "servicePorts", true],
  [["--no-deps"], "deps", false],
  [["-T", "--no-TTY"], "tty", false],
  [["-i", "--interactive"], "interactive", true],
  [["--build"], "build", true],
] as const) {
  for (const n of names) RUN[n] = { kind: "run", key, value };
}
for (const [names, key, many] of [
  [["--name"], "name", false],
  [["--entrypoint"], "entrypoint", false],
  [["-e", "--env"], "env", true],
  [["-v", "--volume"], "volume", true],
  [["-p", "--publish"], "publish", true],
  [["-u", "--user"], "user", false],
  [["-w", "--workdir"], "workdir", false],
  [["-l", "--label"], "label", true],
] as const) {
  for (const n of names) RUN[n] = { kind: "run", key, many };
}

/** `args` is what follows `node bin/stack`. */
export function parseRunInvocation(args: readonly string[]): RunInvocation | undefined {
  const globals: GlobalOptions = { file: [], profile: [], envFile: [] };
  const flags: Record<string, unknown> = { env: [], volume: [], publish: [], label: [] };
  let i = 0;
  const take = (target: Target, into: Record<string, unknown>): boolean => {
    if (target.value !== undefined) {
      into[target.key] = target.value;
      return true;
    }
    const value = args[i + 1];
    if (value === undefined || value.startsWith("-")) return false;
    i++;
    if (target.many) (into[target.key] as string[]).push(value);
    else into[target.key] = value;
    return true;
  };
  for (; i < args.length && args[i] !== "run"; i++) {
    const target = GLOBAL[args[i]!];
    if (!target || !take(target, globals as unknown as Record<string, unknown>)) return undefined;
  }
  if (args[i] !== "run") return undefined;
  for (i++; i < args.length && args[i]!.startsWith("-"); i++) {
    const target = RUN[args[i]!];
    if (!target || !take(target, flags)) return undefined;
  }
  const service = args[i];
  if (service === undefined) return undefined;
  const command = args.slice(i + 1);
  if ([service, ...command].some((a) => a === "-h" || a === "--help" || a === "help" || a === "--")) return undefined;
  return { globals, service, command, flags: flags as RunFlags };
}
