// The verbs that move existing containers through their lives: down, start,
// stop, restart, kill, rm, pause, unpause, wait. Order follows the graph:
// dependencies start first and stop last.
import { InvalidInputError } from "../../errors.js";
import type { CliContext } from "../context.js";
import { containersOf, openSession, type Session } from "../engine-session.js";

async function levelsOf(session: Session, names: Array<{ name: string; service: string }>, direction: "start" | "stop"): Promise<string[][]> {
  const { buildGraph, startLevels, stopLevels } = await import("../../graph/graph.js");
  const graph = buildGraph(session.model);
  const services = [...new Set(names.map((n) => n.service))].filter((s) => s in session.model.services);
  const levels = direction === "start" ? startLevels(graph, services) : stopLevels(graph, services);
  const out = levels.map((level) => names.filter((n) => level.includes(n.service)).map((n) => n.name));
  // Containers of services no longer in the file (orphans) go last on stop, first on start.
  const orphans = names.filter((n) => !(n.service in session.model.services)).map((n) => n.name);
  if (orphans.length > 0) {
    if (direction === "stop") out.unshift(orphans);
    else out.push(orphans);
  }
  return out.filter((l) => l.length > 0);
}

/** Stops the given services' containers (all when none) in reverse dependency order. */
export async function stopProject(session: Session, services: string[], timeoutMs?: number): Promise<void> {
  const names = await containersOf(session, services);
  for (const level of await levelsOf(session, names, "stop")) {
    await Promise.all(level.map(async (name) => {
      const r = session.engine.record(name);
      session.progress.sink({ service: r.service, container: name, phase: "stopping" });
      await session.engine.containers.stop(name, timeoutMs);
      session.progress.sink({ service: r.service, container: name, phase: "stopped" });
    }));
  }
}

/** Starts containers in dependency order; with `skipRunning`, those already up are left alone. */
async function startContainers(session: Session, names: Array<{ name: string; service: string }>, skipRunning: boolean): Promise<void> {
  const statuses = new Map((await session.engine.statusOf(names.map((n) => n.name))).map((s) => [s.name, s]));
  for (const level of await levelsOf(session, names, "start")) {
    await Promise.all(level.map(async (name) => {
      const st = statuses.get(name)!;
      if (skipRunning && (st.state === "running" || st.state === "restarting" || st.state === "paused")) return;
      const r = session.engine.record(name);
      session.progress.sink({ service: r.service, container: name, phase: "starting" });
      await session.engine.containers.start(name);
      session.progress.sink({ service: r.service, container: name, phase: "started" });
    }));
  }
}

export interface DownFlags {
  volumes?: boolean;
  rmi?: string;
  removeOrphans?: boolean;
  timeout?: string;
}

export async function runDown(ctx: CliContext, flags: DownFlags): Promise<void> {
  const { parseSeconds } = await import("./up.js");
  if (flags.rmi !== undefined && flags.rmi !== "local" && flags.rmi !== "all") {
    throw new InvalidInputError(`--rmi: ${JSON.stringify(flags.rmi)} is not local or all`, { hint: "--rmi local removes images built for the stack without an image: name; --rmi all removes every image of the stack" });
  }
  const timeoutMs = parseSeconds("--timeout", flags.timeout);
  const session = await openSession(ctx, { lock: "down" });
  session.engine.runtime.warm();
  try {
    const { down } = await import("../../engine/down.js");
    const { engine, model } = session;
    // A background watch (`stack watch -d`) must not bring a service back while it goes.
    await (await engine.runningSupervisor())?.stopFileWatch().catch(() => false);
    await down(engine, model, { removeOrphans: flags.removeOrphans, volumes: flags.volumes, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
    if (flags.rmi) {
      const { imageRefOf } = await import("../../engine/wiring.js");
      for (const s of Object.values(model.services).sort((a, b) => a.name.localeCompare(b.name))) {
        if (flags.rmi === "local" && s.image) continue;
        const ref = imageRefOf(model.name, s);
        const store = await engine.imageStore();
        if (!(await store.resolve(ref))) continue;
        await store.remove(ref);
        session.progress.sink({ service: s.name, container: ref, phase: "removed", detail: "image" });
      }
    }
    const left = Object.keys(engine.state.read().containers);
    if (left.length === 0) await engine.forget();
  } finally {
    await session.close();
  }
}

export async function runStart(ctx: CliContext, services: string[]): Promise<void> {
  const session = await openSession(ctx, { services, lock: "start" });
  try {
    const names = await containersOf(session, services);
    if (names.length === 0) throw new InvalidInputError("no containers to start", { hint: "create them with `stack up` (or `stack create`)" });
    await startContainers(session, names, true);
  } finally {
    await session.close();
  }
}

export async function runStop(ctx: CliContext, services: string[], flags: { timeout?: string }): Promise<void> {
  const { parseSeconds } = await import("./up.js");
  const timeoutMs = parseSeconds("--timeout", flags.timeout);
  const session = await openSession(ctx, { services, lock: "stop" });
  try {
    await stopProject(session, services, timeoutMs);
  } finally {
    await session.close();
  }
}

export async function runRestart(ctx: CliContext, services: string[], flags: { timeout?: string; deps?: boolean }): Promise<void> {
  const { parseSeconds } = await import("./up.js");
  const timeoutMs = parseSeconds("--timeout", flags.timeout);
  const session = await openSession(ctx, { services, lock: "restart" });
  try {
    await stopProject(session, services, timeoutMs);
    await startContainers(session, await containersOf(session, services), false);
  } finally {
    await session.close();
  }
}

export async function runKill(ctx: CliContext, services: string[], flags: { signal?: string; removeOrphans?: boolean }): Promise<void> {
  const signal = normalizeSignal(flags.signal ?? "SIGKILL");
  const session = await openSession(ctx, { services, lock: "kill" });
  try {
    const names = await containersOf(session, services);
    const statuses = await session.engine.statusOf(names.map((n) => n.name));
    await Promise.all(statuses.filter((s) => s.state === "running" || s.state === "paused").map(async (s) => {
      await session.engine.containers.kill(s.name, signal);
      session.progress.sink({ service: s.service, container: s.name, phase: "stopped", detail: `sent ${signal}` });
    }));
  } finally {
    await session.close();
  }
}

export function normalizeSignal(value: string): string {
  const v = value.trim().toUpperCase();
  if (/^\d+$/.test(v) && Number(v) > 0 && Number(v) < 65) return v;
  const name = v.startsWith("SIG") ? v : `SIG${v}`;
  if (!/^SIG[A-Z0-9+-]+$/.test(name)) throw new InvalidInputError(`--signal: ${JSON.stringify(value)} is not a signal`, { hint: "use a name such as SIGTERM, HUP or KILL, or a number" });
  return name;
}

export async function runRm(ctx: CliContext, services: string[], flags: { force?: boolean; stop?: boolean; volumes?: boolean }): Promise<void> {
  const session = await openSession(ctx, { services, lock: "rm" });
  try {
    if (flags.stop) await stopProject(session, services);
    const names = await containersOf(session, services);
    const statuses = await session.engine.statusOf(names.map((n) => n.name));
    const running = statuses.filter((s) => s.state === "running" || s.state === "paused" || s.state === "restarting");
    const removable = statuses.filter((s) => !running.includes(s));
    if (removable.length === 0) {
      ctx.stderr.write("No stopped containers\n");
      return;
    }
    const state = session.engine.state.read();
    for (const s of removable) {
      session.progress.sink({ service: s.service, container: s.name, phase: "removing" });
      await session.engine.containers.remove(s.name, { volumes: !!flags.volumes });
      delete state.containers[s.name];
      session.engine.state.write(state);
      session.progress.sink({ service: s.service, container: s.name, phase: "removed" });
    }
  } finally {
    await session.close();
  }
}

export async function runPause(ctx: CliContext, services: string[], pause: boolean): Promise<void> {
  const session = await openSession(ctx, { services, lock: pause ? "pause" : "unpause" });
  try {
    const names = await containersOf(session, services);
    const statuses = await session.engine.statusOf(names.map((n) => n.name));
    for (const s of statuses) {
      if (pause ? s.state !== "running" : s.state !== "paused") continue;
      const h = session.engine.handleOf(s.name);
      if (pause) await session.engine.runtime.pause(h);
      else await session.engine.runtime.unpause(h);
      ctx.stderr.write(` Container ${s.name}  ${pause ? "Paused" : "Unpaused"}\n`);
    }
  } finally {
    await session.close();
  }
}

/** `stack wait`: blocks until the services' containers exit; prints each exit code; the exit code is the first one's. */
export async function runWait(ctx: CliContext, services: string[], flags: { downProject?: boolean }): Promise<number> {
  const session = await openSession(ctx, { services });
  let code = 0;
  try {
    const names = await containersOf(session, services);
    if (names.length === 0) throw new InvalidInputError("no containers to wait for", { hint: "create them with `stack up`" });
    const pending = new Set(names.map((n) => n.name));
    let first = true;
    while (pending.size > 0) {
      for (const s of await session.engine.statusOf([...pending])) {
        if (s.state !== "exited" && s.state !== "missing") continue;
        pending.delete(s.name);
        ctx.stdout.write(`${s.exitCode ?? 0}\n`);
        if (first) code = s.exitCode ?? 0;
        first = false;
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await session.close();
  }
  if (flags.downProject) await runDown(ctx, {});
  return code;
}
