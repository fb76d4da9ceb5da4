// A project for CLI end-to-end tests: a temp folder with a stack file, its
// own state and run dirs holding a busybox image, and `stack` run as a user
// would. dispose() takes the project down and fails when anything is left.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { importBusyboxImage } from "../../helpers/busybox-image.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { bridgeName } from "../../../src/network/names.js";
import { runStack, type StackRun } from "../../helpers/cli.js";

export const IMAGE = "stack-test/busybox:latest";

export interface Project {
  dir: string;
  name: string;
  stateDir: string;
  runDir: string;
  env: Record<string, string>;
  write(yaml: string): void;
  stack(args: string[], options?: { timeout?: number; input?: string }): Promise<StackRun>;
  /** `down -v -t 0`, then the leak check. */
  dispose(): Promise<void>;
}

let counter = 0;

export async function makeProject(prefix: string): Promise<Project> {
  const dir = mkdtempSync(`/tmp/stack-e2e-${prefix}-`);
  const name = `${prefix}${process.pid % 1000}x${++counter}`;
  const stateDir = join(dir, "state");
  const runDir = join(dir, "run");
  const before: HostSnapshot = snapshotHost([dir], [join(runDir, "runc")]);
  await importBusyboxImage(stateDir, IMAGE);
  const env = { STACK_STATE_DIR: stateDir, STACK_RUN_DIR: runDir, STACK_PROJECT_NAME: name };
  const project: Project = {
    dir,
    name,
    stateDir,
    runDir,
    env,
    write(yaml) {
      writeFileSync(join(dir, "compose.yaml"), yaml);
    },
    stack(args, options = {}) {
      return runStack(args, { cwd: dir, env, timeout: options.timeout ?? 90_000, ...(options.input !== undefined ? { input: options.input } : {}) });
    },
    async dispose() {
      try {
        const r = await project.stack(["down", "-v", "-t", "0", "--remove-orphans"]);
        if (r.exitCode !== 0) throw new Error(`down failed: ${r.stderr}`);
        // Only what this project can have made counts: other test runs may share the host.
        const bridge = bridgeName(`${name}_default`);
        const left = diffSnapshots(before, snapshotHost([dir], [join(runDir, "runc")])).filter(
          (item) => item.includes(name) || item.includes(dir) || item.endsWith(` ${bridge}`),
        );
        if (left.length > 0) throw new Error(`the test left resources behind:\n  ${left.join("\n  ")}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return project;
}

/** Lines of `stack logs -t` as {time, prefix, text}. */
export function parseTimestamped(stdout: string): Array<{ t: string; prefix: string; text: string }> {
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+)\s+\|\s(\S+) ?(.*)$/.exec(l);
      if (!m) throw new Error(`not a log line: ${JSON.stringify(l)}`);
      return { prefix: m[1]!, t: m[2]!, text: m[3]! };
    });
}
