// The warm `stack run`: the supervisor's half (the client's is
// src/cli/run-handoff.ts). The supervisor has Node started and, after its
// first run, the loader, the engine and the runtime loaded; a client that
// hands its command line over skips all of that. The run itself is the CLI's
// own verb (src/cli/verbs/exec.ts runRun) with the client's environment,
// working directory and global options, so the project, the validation, the
// errors and the clean-up are the local path's; only the runtime's `run`
// gets pipes to the client instead of inherited stdio.
//
// The supervisor declines (result `{fallback}`, the client then runs the
// command itself) before it changes or prints anything: another state or
// run directory, a command line run-argv.ts does not read, a stack that does
// not load, a project that is not this supervisor's.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { Writable } from "node:stream";
import type { CliContext } from "../cli/context.js";
import type { RunChannel, RunHostPort } from "./server.js";
import type { RunRequest } from "./protocol.js";

export interface RunHostOptions {
  project: string;
  stateDir: string;
  runDir: string;
  log: (message: string) => void;
}

export interface RunHost {
  serve: RunHostPort;
  /** Resolves once no run is in flight (or after `timeoutMs`): a supervisor that stops lets its runs end and answer first. */
  drain(timeoutMs?: number): Promise<void>;
}

export function createRunHost(opts: RunHostOptions): RunHost {
  let inFlight = 0;
  const idle: Array<() => void> = [];
  const settle = () => {
    if (--inFlight === 0) for (const r of idle.splice(0)) r();
  };
  const serve: RunHostPort = (request, channel) => {
    inFlight++;
    const decline = channel.finish;
    channel = {
      ...channel,
      finish(result) {
        if ("fallback" in result) opts.log(`run: declined (${result.fallback}); the client runs it`);
        decline(result);
      },
    };
    serveRun(opts, request, channel)
      .catch((e: unknown) => {
        // serveRun reports its own failures; this is a bug in it.
        opts.log(`run: ${(e as Error)?.stack ?? String(e)}`);
        channel.finish({ exitCode: 70 });
      })
      .finally(settle);
  };
  return {
    serve,
    drain(timeoutMs = 60_000) {
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        idle.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
}

async function serveRun(opts: RunHostOptions, request: RunRequest, channel: RunChannel): Promise<void> {
  let closed = false;
  const onClosed: Array<() => void> = [];
  // The client's stdin arrives from acceptance on; it waits here until the container runs.
  const input: Array<Buffer | null> = [];
  let deliver: ((data: Buffer | null) => void) | undefined;
  channel.onInput((data) => (deliver ? deliver(data) : input.push(data)));
  channel.onClose(() => {
    closed = true;
    for (const l of onClosed) l();
  });
  if (!Array.isArray(request.argv) || !request.argv.every((a) => typeof a === "string") || typeof request.cwd !== "string" || !isStringRecord(request.env)) {
    return channel.finish({ fallback: "malformed run request" });
  }
  const env = request.env;
  if (resolve(env.STACK_STATE_DIR || "/var/lib/stack") !== resolve(opts.stateDir) || resolve(env.STACK_RUN_DIR || "/run/stack") !== resolve(opts.runDir)) {
    return channel.finish({ fallback: "another state or run directory" });
  }
  const { parseRunInvocation } = await import("../cli/run-argv.js");
  const inv = parseRunInvocation(request.argv);
  if (!inv || inv.flags.detach) return channel.finish({ fallback: "command line not handed off" });

  // Until the run is accepted, what the verb writes is held back: a declined run prints nothing.
  let accepted = false;
  const held: Array<{ fd: 1 | 2; data: Buffer }> = [];
  const out = (fd: 1 | 2, data: Buffer) => {
    if (closed || data.length === 0) return;
    if (accepted) channel.emit({ fd, data: data.toString("base64") });
    else held.push({ fd, data });
  };
  const stream = (fd: 1 | 2, isTTY: boolean) => {
    const w = new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        out(fd, typeof chunk === "string" ? Buffer.from(chunk) : chunk);
        cb();
      },
    });
    Object.assign(w, { isTTY, ...(request.stdio?.columns ? { columns: request.stdio.columns } : {}) });
    return w;
  };
  const stderr = stream(2, request.stdio?.stderr === true);
  const ctx: CliContext = {
    globals: inv.globals,
    env,
    cwd: request.cwd,
    stdout: stream(1, request.stdio?.stdout === true),
    stderr,
    stateDir: opts.stateDir,
    runDir: opts.runDir,
    warn: (message) => void stderr.write(`WARN ${message}\n`),
  };

  const { loadProject } = await import("../cli/project.js");
  let model;
  try {
    model = (await loadProject(ctx, { services: [inv.service] })).model;
  } catch (e) {
    return channel.finish({ fallback: `the stack does not load here: ${(e as Error)?.message}` });
  }
  if (model.name !== opts.project) return channel.finish({ fallback: `project ${model.name} is not ${opts.project}` });
  if (closed) return;
  accepted = true;
  channel.emit({ accepted: true });
  opts.log(`run: serving ${JSON.stringify(inv.service)} for a client`);
  for (const h of held.splice(0)) out(h.fd, h.data);

  const [{ runRun }, { formatError }, { exitCodeFor, isStackError }] = await Promise.all([import("../cli/verbs/exec.js"), import("../cli/format-error.js"), import("../errors.js")]);
  let exitCode: number;
  try {
    exitCode = await runRun(ctx, inv.service, inv.command, { ...inv.flags, tty: false }, { model, run: (argv, killInit) => runPiped(argv, killInit) });
  } catch (e) {
    stderr.write(formatError(e, env.STACK_DEBUG === "1"));
    exitCode = isStackError(e) ? exitCodeFor[e.category] : 70;
  }
  channel.finish({ exitCode });

  /**
   * The runtime's `run` with pipes to the client. A signal from the client
   * goes to `run`, which passes it to the container; a second SIGINT or
   * SIGTERM, or the client going away, kills the container's init (and with
   * it its PID namespace).
   */
  function runPiped(argv: string[], killInit: () => void): Promise<number> {
    if (closed) return Promise.resolve(137); // the client left before the container started: it never runs
    return new Promise((resolveRun) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
      let exited = false;
      child.stdout.on("data", (b: Buffer) => out(1, b));
      child.stderr.on("data", (b: Buffer) => out(2, b));
      child.stdin.on("error", () => undefined); // a container that does not read its input
      deliver = (data) => {
        if (exited || child.stdin.destroyed) return;
        if (data === null) child.stdin.end();
        else child.stdin.write(data);
      };
      for (const data of input.splice(0)) deliver(data);
      let signalled = 0;
      channel.onSignal((signal) => {
        if (exited || !/^SIG(INT|TERM|HUP)$/.test(signal)) return;
        if (++signalled > 1 && signal !== "SIGHUP") killInit();
        else child.kill(signal as NodeJS.Signals);
      });
      onClosed.push(killInit);
      if (closed) killInit();
      child.on("error", () => undefined); // "close" follows
      child.on("close", (code, signal) => {
        exited = true;
        resolveRun(code ?? (signal ? 128 + (signalNumbers[signal] ?? 0) : 128));
      });
    });
  }
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
