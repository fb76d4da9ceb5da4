// Live rebuild from the CLI: `stack watch` (attached or -d), `stack up
// --watch` (attached: watch events among the logs; -d: the supervisor
// watches), `stack watch --stop`, and the "watching" flag of `stack ps`.
// The watching itself is src/watch's Watcher over the engine's WatchTarget;
// a detached watch runs inside the project's supervisor (file-watch.ts).
import { resolve } from "node:path";
import { ConflictError, InvalidInputError } from "../../errors.js";
import type { EngineWatchTarget, WatchEngineSettings } from "../../engine/watch-target.js";
import type { StackModel } from "../../schema/model.js";
import type { FileWatchSpec } from "../../supervisor/protocol.js";
import type { CliContext } from "../context.js";
import type { Session } from "../engine-session.js";

export interface WatchFlags {
  /** --no-up: false */
  up?: boolean;
  rebuildOnChange?: boolean;
  detach?: boolean;
  stop?: boolean;
  quiet?: boolean;
}

/** A running attached watch. */
export interface AttachedWatch {
  /** A restart or rebuild is in progress: a container may be down for a moment. */
  busy(): boolean;
  stop(): Promise<void>;
}

/** Compiles the rules (all errors at once, before anything starts); the services that would be watched. */
async function checkRules(model: StackModel, services: string[], rebuildOnChange: boolean): Promise<string[]> {
  const { compileWatchRules, readBuildIgnoreFiles } = await import("../../watch/index.js");
  const selected = services.length > 0 ? services.filter((s) => s in model.services) : Object.keys(model.services);
  const compiled = compileWatchRules(model, { services, rebuildOnChange, ignoreFiles: readBuildIgnoreFiles(model, selected) });
  return [...new Set(compiled.rules.map((r) => r.service))].sort();
}

async function engineSettings(ctx: CliContext, model: StackModel): Promise<WatchEngineSettings> {
  const { registrySettings } = await import("../commands/image-registry.js");
  return {
    model,
    stateDir: ctx.stateDir,
    runDir: ctx.runDir,
    env: ctx.env,
    warn: (m) => ctx.warn(m),
    registry: registrySettings(ctx),
    ...(ctx.env.STACK_RUNTIME ? { runtimeOverride: ctx.env.STACK_RUNTIME } : {}),
  };
}

/** How this CLI loaded the stack, for the supervisor to load the same model. */
async function specOf(ctx: CliContext, model: StackModel, services: string[], rebuildOnChange: boolean): Promise<FileWatchSpec> {
  const { registrySettings } = await import("../commands/image-registry.js");
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined) env[k] = v;
  return {
    files: model.files,
    cwd: ctx.cwd,
    env,
    projectName: model.name,
    projectDirectory: model.project_dir,
    profiles: model.profiles,
    envFiles: ctx.globals.envFile.map((f) => resolve(ctx.cwd, f)),
    services,
    rebuildOnChange,
    registry: registrySettings(ctx),
  };
}

/** Hands the watch to the project's supervisor; prints what it watches. */
async function startDetached(ctx: CliContext, session: Session, services: string[], rebuildOnChange: boolean): Promise<void> {
  const sup = await session.engine.supervisor();
  const { services: watched } = await sup.startFileWatch(await specOf(ctx, session.model, services, rebuildOnChange));
  const { supervisorPaths } = await import("../../supervisor/paths.js");
  ctx.stderr.write(
    `Watching ${watched.join(", ")} in the background (events in ${supervisorPaths(ctx.runDir, session.model.name).log}); stop with \`stack watch --stop\` or \`stack down\`\n`,
  );
}

/** Starts watching in this process: events to stdout (each line after `prefix`). */
async function startAttached(ctx: CliContext, session: Session, services: string[], rebuildOnChange: boolean, prefix: string, lockHeld: boolean): Promise<AttachedWatch> {
  const [{ createWatchTarget }, { Watcher, formatWatchEvent }] = await Promise.all([import("../../engine/watch-target.js"), import("../../watch/index.js")]);
  const { model, engine } = session;
  const sup = await engine.supervisor();
  const status = await sup.fileWatchStatus();
  if (status.detached) {
    throw new ConflictError(`the supervisor of project ${model.name} already watches ${status.detached.services.join(", ")} in the background`, { hint: "stop it with `stack watch --stop`, or leave it: it keeps watching" });
  }
  const target: EngineWatchTarget = createWatchTarget({ settings: await engineSettings(ctx, model), ...(lockHeld ? { engine } : {}) });
  const watcher = new Watcher({ model, services, port: target, rebuildOnChange, log: (e) => ctx.stdout.write(`${prefix}${formatWatchEvent(e)}\n`) });
  try {
    await watcher.start();
    // For `ps`, and so no detached watch starts beside this one (ends with this connection).
    await sup.attachFileWatch(watcher.services);
  } catch (e) {
    target.close();
    await watcher.stop();
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    busy: () => target.busy(),
    stop() {
      stopped ??= (async () => {
        target.close();
        await watcher.stop();
      })();
      return stopped;
    },
  };
}

/** The first SIGINT/SIGTERM; cancel() takes the handlers away again. */
function interrupted(): { signalled: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const signalled = new Promise<void>((r) => {
    const on = () => {
      cancel();
      r();
    };
    cancel = () => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
  return { signalled, cancel };
}

export async function runWatch(ctx: CliContext, services: string[], flags: WatchFlags): Promise<number> {
  const { openSession } = await import("../engine-session.js");
  if (flags.stop) {
    if (services.length > 0 || flags.detach || flags.rebuildOnChange) throw new InvalidInputError("--stop takes no services and no other flag", { hint: "run `stack watch --stop` alone" });
    const session = await openSession(ctx);
    try {
      const sup = await session.engine.runningSupervisor();
      const stopped = sup ? await sup.stopFileWatch() : false;
      ctx.stderr.write(stopped ? `Stopped watching project ${session.model.name}\n` : `No background watch runs for project ${session.model.name}\n`);
    } finally {
      await session.close();
    }
    return 0;
  }
  const rebuildOnChange = !!flags.rebuildOnChange;
  const session = await openSession(ctx, { services });
  try {
    await checkRules(session.model, services, rebuildOnChange);
    if (flags.up !== false) {
      const { runUp } = await import("./up.js");
      const code = await runUp(ctx, services, { detach: true });
      if (code !== 0) return code;
    }
    if (flags.detach) {
      await startDetached(ctx, session, services, rebuildOnChange);
      return 0;
    }
    const watch = await startAttached(ctx, session, services, rebuildOnChange, "", false);
    ctx.stderr.write("Watching (Ctrl-C stops watching; the containers keep running)\n");
    await interrupted().signalled;
    await watch.stop();
    return 0;
  } finally {
    await session.close();
  }
}

/**
 * `up --watch`: checked before anything starts (flags, rules), begun once the
 * stack is up. Attached, the watch stops at the first Ctrl-C, before `up`
 * stops the stack, so no rebuild starts a container that is being stopped.
 */
export async function prepareUpWatch(ctx: CliContext, services: string[], flags: { detach?: boolean; start?: boolean; rebuildOnChange?: boolean }): Promise<{ begin(session: Session): Promise<AttachedWatch | undefined> }> {
  if (flags.start === false) throw new InvalidInputError("--watch cannot be combined with --no-start", { hint: "the watch acts on running containers: drop --no-start" });
  if (ctx.globals.dryRun) throw new InvalidInputError("--watch cannot be combined with --dry-run", { hint: "drop --watch to see the plan" });
  const { loadProject } = await import("../project.js");
  const { model } = await loadProject(ctx, services.length > 0 ? { services } : {});
  const rebuildOnChange = !!flags.rebuildOnChange;
  await checkRules(model, services, rebuildOnChange);
  return {
    async begin(session) {
      if (flags.detach) {
        await startDetached(ctx, session, services, rebuildOnChange);
        return undefined;
      }
      const watch = await startAttached(ctx, session, services, rebuildOnChange, "[watch] ", true);
      const signal = interrupted();
      void signal.signalled.then(() => watch.stop());
      return {
        busy: () => watch.busy(),
        async stop() {
          signal.cancel();
          await watch.stop();
        },
      };
    },
  };
}

/** Services being watched (by the supervisor or an attached CLI), for `ps`. */
export async function watchedServices(session: Session): Promise<Set<string>> {
  const sup = await session.engine.runningSupervisor();
  if (!sup) return new Set();
  try {
    const s = await sup.fileWatchStatus();
    return new Set([...(s.detached?.services ?? []), ...s.attached]);
  } catch {
    return new Set(); // an older supervisor without file watching
  }
}
