// Helpers for live-rebuild end-to-end tests: an attached `stack watch` (or
// `up --watch`) run as a child process whose output lines can be awaited, and
// small readers of `stack ps` / `stack exec`.
import { execa, type ResultPromise } from "execa";
import { stackBin } from "../../helpers/cli.js";
import type { Project } from "../engine/harness.js";

export interface RunningCli {
  /** stdout and stderr so far, as they came. */
  output(): string;
  /**
   * Resolves with the first line matching `pattern`, and when it was seen. The search starts after
   * the last line an earlier wait matched, or at line `from` when given (for lines whose order
   * between each other is not fixed: take `mark()` first, then wait for each from it).
   */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<{ line: string; at: number }>;
  /** The number of lines so far: a starting point for `waitFor`. */
  mark(): number;
  /** Ctrl-C; resolves with the exit code. */
  interrupt(): Promise<number>;
  kill(): void;
}

export function startCli(p: Project, args: string[]): RunningCli {
  const child: ResultPromise = execa(process.execPath, [stackBin, ...args], { cwd: p.dir, env: p.env, reject: false, all: true, buffer: false });
  const lines: Array<{ line: string; at: number }> = [];
  let pending = "";
  let text = "";
  const waiters = new Set<() => void>();
  child.all!.setEncoding("utf8");
  child.all!.on("data", (d: string) => {
    text += d;
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      lines.push({ line: pending.slice(0, nl), at: Date.now() });
      pending = pending.slice(nl + 1);
    }
    for (const w of waiters) w();
  });
  let seen = 0;
  return {
    output: () => text,
    mark: () => lines.length,
    waitFor(pattern, timeoutMs = 20_000, from) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = from ?? seen; i < lines.length; i++) {
            if (pattern.test(lines[i]!.line)) {
              seen = Math.max(seen, i + 1);
              waiters.delete(check);
              clearTimeout(timer);
              resolve(lines[i]!);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${text}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async interrupt() {
      child.kill("SIGINT");
      const r = await child;
      return r.exitCode ?? -1;
    },
    kill() {
      child.kill("SIGKILL");
    },
  };
}

export interface PsEntry {
  Service: string;
  ID: string;
  State: string;
  Watching: boolean;
}

export async function ps(p: Project): Promise<Record<string, PsEntry>> {
  const r = await p.stack(["ps", "--format", "json"]);
  if (r.exitCode !== 0) throw new Error(`ps failed: ${r.stderr}`);
  return Object.fromEntries(r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as PsEntry).map((e) => [e.Service, e]));
}

/** `stack exec -T SERVICE sh -c SCRIPT` → stdout (throws on failure). */
export async function execIn(p: Project, service: string, script: string): Promise<string> {
  const r = await p.stack(["exec", "-T", service, "sh", "-c", script]);
  if (r.exitCode !== 0) throw new Error(`exec ${script} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}
