// What every verb that touches containers starts with: the project's model,
// the project lock (for verbs that change it), the engine over the real
// layers, and the progress renderer chosen by --progress and the terminal.
import type { Engine } from "../engine/wiring.js";
import type { StackModel } from "../schema/model.js";
import type { CliContext } from "./context.js";
import type { ProgressRenderer } from "./progress.js";

export interface Session {
  model: StackModel;
  engine: Engine;
  progress: ProgressRenderer;
  /** Releases the lock and the supervisor connection; waits for the progress renderer. */
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Services named on the command line (they also enable their profiles). */
  services?: string[];
  /** The command's name, when it changes the project (takes the project lock). */
  lock?: string;
}

function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WriteStream).isTTY === true;
}

export async function openSession(ctx: CliContext, options: SessionOptions = {}): Promise<Session> {
  const { loadProject } = await import("./project.js");
  const { model } = await loadProject(ctx, options.services ? { services: options.services } : {});
  return openSessionFor(ctx, model, options);
}

export async function openSessionFor(ctx: CliContext, model: StackModel, options: SessionOptions = {}): Promise<Session> {
  const [{ createProgress, resolveProgressMode }, { openEngine }, { lockProject }] = await Promise.all([
    import("./progress.js"),
    import("../engine/wiring.js"),
    import("../engine/lock.js"),
  ]);
  const progress = createProgress(resolveProgressMode(ctx.globals.progress, isTty(ctx.stderr)), ctx.stderr);
  const lock = options.lock ? await lockProject(ctx.runDir, model.name, options.lock) : undefined;
  try {
    const engine = await openEngine({
      project: model.name,
      stateDir: ctx.stateDir,
      runDir: ctx.runDir,
      warn: ctx.warn,
      progress: progress.sink,
      ...(ctx.env.STACK_RUNTIME ? { runtimeOverride: ctx.env.STACK_RUNTIME } : {}),
    });
    return {
      model,
      engine,
      progress,
      async close() {
        await progress.close();
        engine.close();
        lock?.release();
      },
    };
  } catch (e) {
    lock?.release();
    throw e;
  }
}

/** Recorded containers of the named services (all when none), sorted by service then index; unknown names are an error. */
export async function containersOf(session: Session, services: string[], includeOneOff = false): Promise<Array<{ name: string; service: string; index: number }>> {
  const { InvalidInputError } = await import("../errors.js");
  const all = Object.values(session.engine.state.read().containers).filter((c) => includeOneOff || !c.oneOff);
  for (const s of services) {
    if (!(s in session.model.services) && !all.some((c) => c.service === s)) {
      throw new InvalidInputError(`no such service: ${JSON.stringify(s)}`, { hint: `services are: ${Object.keys(session.model.services).sort().join(", ")}` });
    }
  }
  return all
    .filter((c) => services.length === 0 || services.includes(c.service))
    .sort((a, b) => a.service.localeCompare(b.service) || a.index - b.index)
    .map((c) => ({ name: c.name, service: c.service, index: c.index }));
}
