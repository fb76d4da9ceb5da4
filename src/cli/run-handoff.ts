// The warm `stack run`: the client half. bin/stack calls handOffRun() before
// it loads the CLI (commander, the loader, the engine): when the project's
// supervisor runs, it serves the one-off container (src/supervisor/run-host.ts)
// with its modules loaded already, and this process only relays stdin,
// stdout, stderr, signals and the exit code. Besides node builtins it imports
// only constant-sized modules (the argv reader, the standard file names, the
// protocol version, the supervisor's paths): it is what a handed-off `run` loads instead of the CLI.
//
// undefined means "run it locally", and is the answer whenever anything is
// unusual: a terminal is wanted (`-t`, or stdin and stdout are terminals
// without -T: a pty cannot cross the socket), -d, an option spelled in a way
// run-argv.ts does not read, no supervisor for the project this directory
// names, a supervisor that does not know `run` (older) or that finds the
// project is not its own or cannot load it. The supervisor says "accepted"
// before it does anything the local path would do again; until then nothing
// is printed and nothing has changed.
import { existsSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { isatty } from "node:tty";
import { STANDARD_FILE_NAMES } from "../schema/file-names.js";
import { supervisorAnswers, supervisorPaths } from "../supervisor/paths.js";
import { PROTOCOL_VERSION } from "../supervisor/protocol-version.js";
import { parseRunInvocation, type RunInvocation } from "./run-argv.js";

/** How long a supervisor may take to accept or decline before the local path runs instead. */
const ACCEPT_TIMEOUT_MS = 10_000;

/** The exit code of the run the supervisor served, or undefined: run it locally. */
export async function handOffRun(args: string[], env: Record<string, string | undefined>, cwd: string): Promise<number | undefined> {
  if (env.STACK_RUN_LOCAL === "1") return undefined;
  const inv = parseRunInvocation(args);
  if (!inv || inv.flags.detach) return undefined;
  if (inv.flags.tty !== false && isatty(0) && isatty(1)) return undefined;
  const project = guessProject(inv, env, cwd);
  if (project === undefined) return undefined;
  const paths = supervisorPaths(env.STACK_RUN_DIR || "/run/stack", project);
  // After `up -d` the supervisor boots once the command has returned, holding the start lock until it
  // listens (docs/supervisor.md, "Deferred start"): a run that comes meanwhile waits for it (3 s at most).
  if (!existsSync(paths.socket) && !(await supervisorAnswers(paths, 3000))) return undefined;
  return relay(paths.socket, args, env, cwd);
}

/**
 * The project the CLI would name, cheaply: -p, STACK_PROJECT_NAME,
 * COMPOSE_PROJECT_NAME, the first stack file's plain top-level `name:`, else
 * its folder's name. Only a guess: the supervisor loads the stack as the CLI
 * does and declines when the project is not its own.
 */
export function guessProject(inv: RunInvocation, env: Record<string, string | undefined>, cwd: string): string | undefined {
  const explicit = inv.globals.projectName || env.STACK_PROJECT_NAME || env.COMPOSE_PROJECT_NAME;
  if (explicit) return explicit;
  let file: string | undefined;
  if (inv.globals.file.length > 0) {
    if (inv.globals.file[0] === "-") return undefined;
    file = resolve(cwd, inv.globals.file[0]!);
  } else {
    if (env.STACK_FILE || env.COMPOSE_FILE) return undefined;
    for (let dir = cwd; file === undefined; dir = dirname(dir)) {
      file = STANDARD_FILE_NAMES.map((n) => join(dir, n)).find((p) => existsSync(p));
      if (dir === dirname(dir)) break;
    }
  }
  if (file === undefined) return undefined;
  const projectDir = inv.globals.projectDirectory ? resolve(cwd, inv.globals.projectDirectory) : dirname(file);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const named = /^name:[ \t]*(.*?)[ \t]*$/m.exec(text);
  if (named) return /^(["']?)([a-z0-9][a-z0-9_-]*)\1$/.exec(named[1]!)?.[2];
  if (inv.globals.envFile.length === 0 && existsSync(join(projectDir, ".env"))) {
    try {
      const fromDotenv = /^(?:STACK|COMPOSE)_PROJECT_NAME=([a-z0-9][a-z0-9_-]*)$/m.exec(readFileSync(join(projectDir, ".env"), "utf8"));
      if (fromDotenv) return fromDotenv[1];
    } catch {
      return undefined;
    }
  }
  return basename(projectDir).toLowerCase().replace(/[^a-z0-9_-]/g, "").replace(/^[_-]+/, "") || undefined;
}

interface Frame {
  seq?: number;
  ok?: boolean;
  result?: { exitCode?: number; fallback?: string };
  error?: { message?: string };
  item?: { accepted?: true; fd?: 1 | 2; data?: string };
}

function relay(path: string, args: string[], env: Record<string, string | undefined>, cwd: string): Promise<number | undefined> {
  const io = process;
  return new Promise((resolvePromise) => {
    const s: Socket = connect(path);
    let accepted = false;
    let settled = false;
    const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
    const onSignal = (signal: NodeJS.Signals) => send({ op: "runSignal", signal });
    const finish = (code: number | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const sig of signals) process.off(sig, onSignal);
      if (accepted) io.stdin.pause();
      s.destroy();
      resolvePromise(code);
    };
    // Before the supervisor accepts, any trouble means the local path runs; nothing was printed yet.
    const timer = setTimeout(() => finish(undefined), ACCEPT_TIMEOUT_MS);
    let seq = 0;
    function send(request: Record<string, unknown>): void {
      if (!s.destroyed) s.write(JSON.stringify({ v: PROTOCOL_VERSION, seq: ++seq, ...request }) + "\n");
    }
    s.on("error", () => (accepted ? lost() : finish(undefined)));
    // A reader that went away (`| head -1`): the rest of that stream is dropped, as a closed pipe would drop it, without a stack trace.
    for (const out of [io.stdout, io.stderr]) out.on("error", () => undefined);
    s.on("close", () => (accepted ? lost() : finish(undefined)));
    function lost(): void {
      if (settled) return; // the answer came first: this is the close that finish() makes
      io.stderr.write("error: the supervisor closed the connection while it ran the container\nhint: see $STACK_RUN_DIR/<project>/supervisor.log\n");
      finish(70);
    }
    s.on("connect", () => {
      const stdio = { stdout: io.stdout.isTTY === true, stderr: io.stderr.isTTY === true, columns: io.stderr.columns };
      send({ op: "run", argv: args, cwd, env: definedOnly(env), stdio });
    });
    s.setEncoding("utf8");
    let pending = "";
    s.on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let f: Frame;
        try {
          f = JSON.parse(line) as Frame;
        } catch {
          continue;
        }
        if (f.seq !== 1) continue;
        if (f.item?.accepted) {
          accepted = true;
          clearTimeout(timer);
          for (const sig of signals) process.on(sig, onSignal);
          relayStdin();
        } else if (f.item?.fd !== undefined && f.item.data !== undefined) {
          (f.item.fd === 2 ? io.stderr : io.stdout).write(Buffer.from(f.item.data, "base64"));
        } else if (f.ok === true) {
          finish(accepted && typeof f.result?.exitCode === "number" ? f.result.exitCode : undefined);
        } else if (f.ok === false) {
          // An older supervisor (unknown operation), or a refusal before it accepted: the local path runs.
          if (!accepted) finish(undefined);
          else {
            io.stderr.write(`error: ${f.error?.message ?? "the supervisor failed"}\n`);
            finish(70);
          }
        }
      }
    });
    function relayStdin(): void {
      io.stdin.on("data", (b: Buffer) => send({ op: "runInput", data: b.toString("base64") }));
      io.stdin.on("end", () => send({ op: "runInput", end: true }));
      io.stdin.on("error", () => send({ op: "runInput", end: true }));
    }
  });
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
