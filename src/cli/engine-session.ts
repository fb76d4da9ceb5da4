// What every verb that touches containers starts with: the project's model,
// the project lock (for verbs that change it), the engine over the real
// layers, and the progress renderer chosen by --progress and the terminal.
import type { ProjectState } from "../engine/state.js";
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
  /** --build / --no-build / --pull of the verb. */
  imageFlags?: import("../engine/image-policy.js").ImageFlags;
}

function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WriteStream).isTTY === true;
}

export async function openSession(ctx: CliContext, options: SessionOptions = {}): Promise<Session> {
  return openSessionFor(ctx, await sessionModel(ctx, options), options);
}

/** The project's model as a session opens it (read-only verbs such as ps use it without the engine). */
export async function sessionModel(ctx: CliContext, options: Pick<SessionOptions, "services" | "lock"> = {}): Promise<StackModel> {
  const { loadProject, recordedProject } = await import("./project.js");
  try {
    return (await loadProject(ctx, options.services ? { services: options.services } : {})).model;
  } catch (e) {
    // `stack -p NAME down` (ps, logs, stop …) without the stack file at hand, as Compose allows:
    // the project as it was recorded. Verbs that make containers (up, run) need the file.
    const creates = options.lock === "up" || options.lock === "run";
    const recorded = creates ? undefined : await recordedProject(ctx, e);
    if (!recorded) throw e;
    return recorded;
  }
}

export async function openSessionFor(ctx: CliContext, model: StackModel, options: SessionOptions = {}): Promise<Session> {
  const [{ createProgress, resolveProgressMode }, { openEngine }, { lockProject }] = await Promise.all([
    import("./progress.js"),
    import("../engine/wiring.js"),
    import("../engine/lock.js"),
  ]);
  const progressMode = resolveProgressMode(ctx.globals.progress, isTty(ctx.stderr));
  const progress = createProgress(progressMode, ctx.stderr);
  const pull = async (ref: string, platform?: string) => {
    const [{ pullImage }, { registrySettings }, { createTransferRenderer }] = await Promise.all([
      import("../image/registry/index.js"),
      import("./commands/image-registry.js"),
      import("../image/registry/progress.js"),
    ]);
    const renderer = progressMode === "quiet" || progressMode === "json" ? undefined : createTransferRenderer("pull", ctx.stderr, progressMode === "tty");
    const result = await pullImage({ stateDir: ctx.stateDir, store: await engine.imageStore(), ref, ...(platform ? { platform } : {}), ...registrySettings(ctx), warn: (m) => ctx.warn(m), ...(renderer ? { onProgress: (e) => renderer.update(e) } : {}) });
    renderer?.finish();
    return { ref, digest: (await (await engine.imageStore()).get(ref)).digest };
  };
  let engine: Engine; // assigned below; the callbacks above run only once it is
  const lock = options.lock ? await lockProject(ctx.runDir, model.name, options.lock) : undefined;
  try {
    engine = await openEngine({
      project: model.name,
      stateDir: ctx.stateDir,
      runDir: ctx.runDir,
      warn: ctx.warn,
      progress: progress.sink,
      ...(ctx.env.STACK_RUNTIME ? { runtimeOverride: ctx.env.STACK_RUNTIME } : {}),
      ...(options.imageFlags ? { imageFlags: options.imageFlags } : {}),
      build: async (service, ref) => {
        const { buildImage, buildRequestOf } = await import("../image/build/index.js");
        const { formatProgress } = await import("../image/build/build-command.js");
        const req = buildRequestOf(model, service, {}, ctx.env);
        await buildImage({ stateDir: ctx.stateDir, runDir: ctx.runDir, store: await engine.imageStore(), runtime: engine.runtime, pull: async (r) => void (await pull(r)) }, req, (e) => {
          const line = formatProgress(service.name, e);
          if (line !== undefined && progressMode !== "quiet" && progressMode !== "json") ctx.stderr.write(`${line}\n`);
        });
        return { ref, digest: (await (await engine.imageStore()).get(ref)).digest };
      },
      pull: async (ref, service) => pull(ref, service.platform),
    });
    return {
      model,
      engine,
      progress,
      async close() {
        await progress.close();
        await engine.close();
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
  return selectContainers(session.engine.state.read(), session.model, services, includeOneOff);
}

/** containersOf() over a project state read without the engine. */
export async function selectContainers(state: ProjectState, model: StackModel, services: string[], includeOneOff = false): Promise<Array<{ name: string; service: string; index: number }>> {
  const { InvalidInputError } = await import("../errors.js");
  const all = Object.values(state.containers).filter((c) => includeOneOff || !c.oneOff);
  for (const s of services) {
    if (!(s in model.services) && !all.some((c) => c.service === s)) {
      throw new InvalidInputError(`no such service: ${JSON.stringify(s)}`, { hint: `services are: ${Object.keys(model.services).sort().join(", ")}` });
    }
  }
  return all
    .filter((c) => services.length === 0 || services.includes(c.service))
    // Code-unit order (Go's, as Compose sorts): localeCompare's first call builds an ICU collator, ~20 ms of a `ps`.
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.index - b.index))
    .map((c) => ({ name: c.name, service: c.service, index: c.index }));
}
