// `stack up`: reconcile, then either return (-d) with a summary of where
// things are reachable, or stay attached: stream the logs of the attached
// services and end when every container has exited (or one has, with
// --abort-on-container-exit / --exit-code-from). Ctrl-C stops the stack
// gracefully; a second Ctrl-C kills it.
import { InvalidInputError } from "../../errors.js";
import type { Plan } from "../../engine/plan.js";
import type { CliContext } from "../context.js";
import { openSession, type Session } from "../engine-session.js";
import { LogFormatter, logPrefix, useColor } from "../log-format.js";

export interface UpFlags {
  detach?: boolean;
  wait?: boolean;
  waitTimeout?: string;
  abortOnContainerExit?: boolean;
  abortOnContainerFailure?: boolean;
  exitCodeFrom?: string;
  attach?: string[];
  noAttach?: string[];
  timeout?: string;
  timestamps?: boolean;
  color?: boolean;
  logPrefix?: boolean;
  forceRecreate?: boolean;
  recreate?: boolean;
  deps?: boolean;
  removeOrphans?: boolean;
  start?: boolean;
  scale?: string[];
  /** --build (true) / --no-build (false): commander keeps them in one attribute. */
  build?: boolean;
  pull?: string;
  quietPull?: boolean;
  watch?: boolean;
  rebuildOnChange?: boolean;
}

export function parseScale(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const m = /^([^=]+)=(\d+)$/.exec(v);
    if (!m) throw new InvalidInputError(`--scale ${JSON.stringify(v)}: expected SERVICE=NUMBER`, { hint: "for example --scale web=3" });
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function parseSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidInputError(`${flag}: ${JSON.stringify(value)} is not a number of seconds`, { hint: `for example ${flag} 10` });
  return Math.round(Number(value) * 1000);
}

export async function runUp(ctx: CliContext, services: string[], flags: UpFlags): Promise<number> {
  if (flags.detach && (flags.abortOnContainerExit || flags.abortOnContainerFailure || flags.exitCodeFrom)) {
    throw new InvalidInputError("-d cannot be combined with --abort-on-container-exit, --abort-on-container-failure or --exit-code-from", { hint: "drop -d to stay attached" });
  }
  const watchPlan = flags.watch ? await (await import("./watch.js")).prepareUpWatch(ctx, services, flags) : undefined;
  const scale = parseScale(flags.scale ?? []);
  const waitTimeoutMs = parseSeconds("--wait-timeout", flags.waitTimeout);
  const timeoutMs = parseSeconds("--timeout", flags.timeout);
  if (flags.pull !== undefined && !["always", "missing", "never"].includes(flags.pull)) {
    throw new InvalidInputError(`--pull: ${JSON.stringify(flags.pull)} is not a pull policy`, { hint: "use always, missing or never" });
  }
  const imageFlags = { ...(flags.build === true ? { build: true } : {}), ...(flags.build === false ? { noBuild: true } : {}), ...(flags.pull ? { pull: flags.pull } : {}) };
  const session = await openSession(ctx, { services, lock: "up", imageFlags });
  session.engine.runtime.warm();
  const { model, engine } = session;
  if (flags.exitCodeFrom && !(flags.exitCodeFrom in model.services)) {
    throw new InvalidInputError(`--exit-code-from: no such service: ${JSON.stringify(flags.exitCodeFrom)}`, { hint: `services are: ${Object.keys(model.services).sort().join(", ")}` });
  }
  const startedAt = new Date();
  let plan: Plan;
  try {
    if (!ctx.globals.dryRun) {
      // Detached, the containers start without the supervisor, which is launched when the command ends (its
      // boot, ~300 ms of CPU, no longer shares the cores with the starts). Attached, it boots while the networks
      // and containers are made: the first start needs it.
      if (flags.start !== false && flags.detach && !watchPlan) await engine.deferSupervisor();
      else if (flags.start !== false) void engine.supervisor().catch(() => undefined);
      const swept = await engine.sweep();
      if (swept.length > 0) ctx.warn(`removed what an interrupted command left: ${swept.join(", ")}`);
    }
    const { up } = await import("../../engine/up.js");
    const result = await up(engine, model, {
      services,
      noDeps: flags.deps === false,
      forceRecreate: flags.forceRecreate,
      noRecreate: flags.recreate === false,
      removeOrphans: flags.removeOrphans,
      noStart: flags.start === false,
      scale,
      dryRun: ctx.globals.dryRun,
      wait: flags.wait,
      ...(waitTimeoutMs !== undefined ? { waitTimeoutMs } : {}),
      onPlan: (p) => session.progress.begin(p.actions.map((a) => a.name)),
    });
    plan = result.plan;
    if (ctx.globals.dryRun) {
      const { describeAction } = await import("../../engine/plan.js");
      ctx.stdout.write(plan.actions.length === 0 ? "nothing to do\n" : plan.actions.map((a) => describeAction(a) + "\n").join(""));
      await session.close();
      return 0;
    }
  } catch (e) {
    await session.close();
    throw e;
  }
  await session.progress.close();
  let watch: Awaited<ReturnType<NonNullable<typeof watchPlan>["begin"]>>;
  try {
    watch = await watchPlan?.begin(session);
  } catch (e) {
    await session.close();
    throw e;
  }

  if (flags.detach || flags.start === false) {
    await printReachable(ctx, session);
    await session.close();
    return 0;
  }
  try {
    return await attach(ctx, session, services, flags, startedAt, timeoutMs, watch);
  } finally {
    await watch?.stop();
    await session.close();
  }
}

/** After `up -d`: each published port as a URL (what Compose never tells). */
async function printReachable(ctx: CliContext, session: Session): Promise<void> {
  const ports = session.engine.network.readState(session.model.name).ports;
  if (ports.length === 0) return;
  const { formatPublishedPort } = await import("../../network/ports.js");
  const lines = [...ports]
    .sort((a, b) => a.service.localeCompare(b.service) || a.container.localeCompare(b.container) || a.target - b.target)
    .map((p) => {
      const host = p.hostIp === "0.0.0.0" || p.hostIp === "" ? "localhost" : p.hostIp;
      const url = p.protocol === "tcp" ? `http://${host}:${p.hostPort}` : `${host}:${p.hostPort}/${p.protocol}`;
      return `  ${p.container}  ${url}  (${formatPublishedPort(p)})`;
    });
  ctx.stderr.write(`Reachable:\n${lines.join("\n")}\n`);
}

async function attach(ctx: CliContext, session: Session, services: string[], flags: UpFlags, startedAt: Date, timeoutMs: number | undefined, watch?: { busy(): boolean }): Promise<number> {
  const { engine, model } = session;
  const { stopProject } = await import("./lifecycle.js");
  const selected = services.length > 0 ? services : Object.keys(model.services);
  let attached = flags.attach && flags.attach.length > 0 ? flags.attach : selected.filter((s) => model.services[s]?.attach !== false);
  attached = attached.filter((s) => !(flags.noAttach ?? []).includes(s));
  const records = () => Object.values(engine.state.read().containers).filter((c) => !c.oneOff);
  const color = useColor({ noColor: flags.color === false, ansi: ctx.globals.ansi, isTty: (ctx.stdout as NodeJS.WriteStream).isTTY === true, env: ctx.env });
  const formatter = new LogFormatter(Object.keys(model.services), { color, prefix: flags.logPrefix !== false, timestamps: !!flags.timestamps }, records().map((r) => logPrefix(r)));
  ctx.stdout.write(`Attaching to ${records().filter((r) => attached.includes(r.service)).map((r) => r.name).join(", ")}\n`);

  const sup = await engine.supervisor();
  const logs = sup.logs({ services: attached, follow: true, since: startedAt.toISOString() });
  // The stream lasts until the CLI exits (main() ends the process).
  void (async () => {
    for await (const line of logs) ctx.stdout.write(formatter.format(line));
  })().catch(() => undefined);

  // The supervisor's events wake the status loop below at once when a container ends or comes back.
  let wake: () => void = () => undefined;
  let changes = 0; // events seen: one that comes while the statuses are read is not lost
  void (async () => {
    for await (const e of sup.events()) {
      if (e.type !== "die" && e.type !== "start" && e.type !== "restart") continue;
      changes++;
      wake();
    }
  })().catch(() => undefined);

  let interrupts = 0;
  let resolveInterrupt!: () => void;
  const interrupted = new Promise<void>((r) => (resolveInterrupt = r));
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      ctx.stderr.write("Gracefully stopping... (press Ctrl+C again to force)\n");
      resolveInterrupt();
    } else {
      ctx.stderr.write("Killing...\n");
      for (const r of records()) void engine.containers.kill(r.name, "SIGKILL").catch(() => undefined);
    }
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  try {
    const abortOn = flags.exitCodeFrom || flags.abortOnContainerExit ? "exit" : flags.abortOnContainerFailure ? "failure" : undefined;
    let exitCode = 0;
    let abortedBy: string | undefined;
    // The statuses, read again whenever the supervisor reports a change (and every second).
    for (;;) {
      const seen = changes;
      const names = records().map((r) => r.name);
      const statuses = await engine.statusOf(names);
      const exited = statuses.filter((s) => s.state === "exited" || s.state === "missing");
      // A watch restarting or recreating a container: its exit is not the end.
      const settling = watch?.busy() ?? false;
      if (abortOn && !settling) {
        const hit = exited.find((s) => abortOn === "exit" || (s.exitCode ?? 0) !== 0);
        if (hit) {
          abortedBy = hit.name;
          if (!flags.exitCodeFrom) exitCode = hit.exitCode ?? 0;
          break;
        }
      }
      if (!settling && statuses.length > 0 && exited.length === statuses.length) break;
      // An event wakes it; the timer is the fallback (a supervisor replaced meanwhile ends the event stream).
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<"tick">((r) => {
        timer = setTimeout(() => r("tick"), 1000);
        wake = () => r("tick");
        if (changes !== seen) r("tick");
      });
      const woke = await Promise.race([tick, interrupted.then(() => "int" as const)]);
      clearTimeout(timer);
      if (woke === "int") break;
    }
    if (flags.exitCodeFrom) {
      const from = records().filter((r) => r.service === flags.exitCodeFrom);
      const st = await engine.statusOf(from.map((r) => r.name));
      exitCode = st.find((s) => s.state === "exited")?.exitCode ?? st[0]?.exitCode ?? 0;
    }
    if (abortedBy || interrupts > 0) {
      if (abortedBy) ctx.stderr.write(`${abortedBy} exited with code ${exitCode}\nAborting on container exit...\n`);
      await stopProject(session, [], timeoutMs);
      if (interrupts > 0 && !abortedBy) exitCode = 130;
    }
    // Let the log stream deliver the last lines of the stopped containers.
    await new Promise((r) => setTimeout(r, 300));
    return exitCode;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}
