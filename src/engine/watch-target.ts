// The engine's side of live rebuild: src/watch's WatchTargetPort over real
// containers. One object per watch session (the CLI's `stack watch` /
// `up --watch`, or the supervisor's detached watch).
//
//   containerRoot: the service's running replicas from the project state as
//                  it is on disk now, each with its merged overlay mount and
//                  the uid/gid its process runs as (config.json's user, which
//                  the runtime resolved from `user:` through the image's
//                  /etc/passwd when it made the container)
//   restart:       stop + start of the service's containers, then of its
//                  dependents that declared `depends_on: {restart: true}`
//   rebuild:       `up` of only that service with the build forced (a new
//                  image → recreate); dependents with restart: true restarted.
//                  Images come first in `up`, so a failed build changes
//                  nothing and rejects with the build's error
//   exec:          runtime exec in the first running replica
//
// restart and rebuild change the project: they take the project lock unless
// the caller already holds it (`up --watch`), and after close() they refuse,
// so a batch that waited for the lock while `down` ran never brings a
// service back.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConflictError } from "../errors.js";
import type { RegistryAccess } from "../image/registry/index.js";
import type { StackModel } from "../schema/model.js";
import type { ContainerRoot, WatchExecOptions, WatchTargetPort } from "../watch/ports.js";
import { lockProject, type ProjectLock } from "./lock.js";
import { readProjectState, type ContainerRecord } from "./state.js";
import type { Engine } from "./wiring.js";

export interface WatchEngineSettings {
  model: StackModel;
  stateDir: string;
  runDir: string;
  /** The environment the stack was loaded with (build args and secrets from it). */
  env: Record<string, string | undefined>;
  warn(message: string): void;
  runtimeOverride?: string;
  /** Registry settings for a FROM image that has to be pulled. */
  registry?: RegistryAccess;
  /** The supervisor daemon's entry (tests, and the daemon itself). */
  supervisorEntry?: string;
}

/** An engine whose image port builds (`rebuild`) or uses what is there (everything else). */
export async function openWatchEngine(s: WatchEngineSettings, rebuild: boolean): Promise<Engine> {
  const { openEngine } = await import("./wiring.js");
  let engine: Engine;
  const pull = async (ref: string, platform?: string) => {
    const { pullImage } = await import("../image/registry/index.js");
    const store = await engine.imageStore();
    await pullImage({ stateDir: s.stateDir, store, ref, ...(platform ? { platform } : {}), ...(s.registry ?? {}), warn: s.warn });
    return { ref, digest: (await store.get(ref)).digest };
  };
  engine = await openEngine({
    project: s.model.name,
    stateDir: s.stateDir,
    runDir: s.runDir,
    warn: s.warn,
    ...(s.runtimeOverride ? { runtimeOverride: s.runtimeOverride } : {}),
    ...(s.supervisorEntry ? { supervisorEntry: s.supervisorEntry } : {}),
    ...(rebuild ? { imageFlags: { build: true } } : {}),
    build: async (service, ref) => {
      const { buildImage, buildRequestOf } = await import("../image/build/index.js");
      const req = buildRequestOf(s.model, service, {}, s.env);
      const store = await engine.imageStore();
      await buildImage({ stateDir: s.stateDir, runDir: s.runDir, store, runtime: engine.runtime, pull: async (r) => void (await pull(r)) }, req);
      return { ref, digest: (await store.get(ref)).digest };
    },
    pull: async (ref, service) => pull(ref, service.platform),
  });
  return engine;
}

export interface WatchTargetOptions {
  settings: WatchEngineSettings;
  /**
   * The caller's engine, when it holds the project lock for the whole watch
   * (`up --watch`): every action goes through it (its state stays the one the
   * caller sees), the rebuild borrowing only a building image port. Without
   * it, each restart/rebuild takes the lock and opens a fresh engine.
   */
  engine?: Engine;
  /** How long restart/rebuild wait for another command's lock (default 60 s). */
  lockWaitMs?: number;
}

export interface EngineWatchTarget extends WatchTargetPort {
  /** A restart or rebuild is in progress (a container may be down for a moment). */
  busy(): boolean;
  /** Refuses restarts and rebuilds from now on (one waiting for the lock gives up). */
  close(): void;
}

interface ProcessUser {
  uid: number;
  gid: number;
}

export function createWatchTarget(opts: WatchTargetOptions): EngineWatchTarget {
  const s = opts.settings;
  const project = s.model.name;
  let closed = false;
  let inFlight = 0;
  // Opened lazily for the fast paths (containerRoot, exec): runtime handles and statuses only, state read fresh each time.
  let reader: Promise<Engine> | undefined;
  const readEngine = () => (reader ??= openWatchEngine(s, false));

  const records = (service: string): ContainerRecord[] =>
    Object.values(readProjectState(s.stateDir, project).containers)
      .filter((c) => c.service === service && !c.oneOff)
      .sort((a, b) => a.index - b.index);

  const running = async (service: string): Promise<ContainerRecord[]> => {
    const engine = await readEngine();
    const out: ContainerRecord[] = [];
    for (const r of records(service)) {
      try {
        const h = engine.runtime.load(project, r.id);
        if ((await engine.runtime.status(h)).status === "running") out.push(r);
      } catch {
        // its folder is gone (removed meanwhile): not running
      }
    }
    return out;
  };

  /** Runs `work` on a fresh engine, holding the project lock unless the caller does. */
  const changing = async <T>(what: string, rebuild: boolean, work: (engine: Engine) => Promise<T>): Promise<T> => {
    if (closed) throw new ConflictError(`watch stopped: ${what} not done`);
    inFlight++;
    const lock = opts.engine ? undefined : await takeLock(what).catch((e: unknown) => {
      inFlight--;
      throw e;
    });
    let own: Engine | undefined;
    let builder: Engine | undefined;
    try {
      let engine: Engine;
      if (opts.engine) {
        builder = rebuild ? await openWatchEngine(s, true) : undefined;
        engine = builder ? { ...opts.engine, images: builder.images } : opts.engine;
      } else {
        engine = own = await openWatchEngine(s, rebuild);
      }
      return await work(engine);
    } finally {
      own?.close();
      builder?.close();
      lock?.release();
      inFlight--;
    }
  };

  const takeLock = async (what: string): Promise<ProjectLock> => {
    const deadline = Date.now() + (opts.lockWaitMs ?? 60_000);
    for (;;) {
      try {
        const lock = await lockProject(s.runDir, project, `watch (${what})`, 0);
        if (!closed) return lock;
        lock.release();
      } catch (e) {
        if (!(e instanceof ConflictError) || closed || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw new ConflictError(`watch stopped: ${what} not done`);
    }
  };

  /** Stops then starts the containers of `services`, dependents stopped first and started last. */
  const restartServices = async (engine: Engine, services: string[], onlyRunning: Set<string>): Promise<void> => {
    const { buildGraph, startLevels } = await import("../graph/graph.js");
    const levels = startLevels(buildGraph(s.model), services.filter((x) => x in s.model.services));
    const state = engine.state.read();
    const of = (service: string) => Object.values(state.containers).filter((c) => c.service === service && !c.oneOff).map((c) => c.name).sort();
    const statuses = new Map((await engine.statusOf(services.flatMap(of))).map((st) => [st.name, st.state]));
    const chosen = (service: string) => of(service).filter((n) => !onlyRunning.has(service) || statuses.get(n) === "running");
    for (const level of [...levels].reverse()) await Promise.all(level.flatMap(chosen).map((n) => engine.containers.stop(n)));
    for (const level of levels) await Promise.all(level.flatMap(chosen).map((n) => engine.containers.start(n)));
  };

  const dependentsOf = async (service: string): Promise<string[]> => {
    const { buildGraph, restartDependents } = await import("../graph/graph.js");
    return restartDependents(buildGraph(s.model), service);
  };

  return {
    async containerRoot(service): Promise<ContainerRoot[]> {
      const engine = await readEngine();
      return (await running(service)).map((r) => {
        const h = engine.runtime.load(project, r.id);
        const user = processUser(h.dir);
        return { rootfs: h.rootfs, uid: user.uid, gid: user.gid, container: r.name };
      });
    },

    restart(service) {
      return changing(`restart ${service}`, false, async (engine) => {
        const dependents = await dependentsOf(service);
        await restartServices(engine, [service, ...dependents], new Set(dependents));
      });
    },

    rebuild(service) {
      return changing(`rebuild ${service}`, true, async (engine) => {
        const { up } = await import("./up.js");
        // No progress lines: the watch reports the rebuild as one event.
        const result = await up({ ...engine, progress: () => undefined }, s.model, { services: [service], noDeps: true });
        const recreated = result.plan.actions.some((a) => a.service === service && (a.kind === "recreate" || a.kind === "create"));
        const dependents = recreated ? await dependentsOf(service) : [];
        if (dependents.length > 0) await restartServices(engine, dependents, new Set(dependents));
      });
    },

    async exec(service, argv, options: WatchExecOptions = {}) {
      const [first] = await running(service);
      if (!first) throw new ConflictError(`service ${JSON.stringify(service)} is not running: cannot run ${JSON.stringify(argv.join(" "))}`, { hint: `start it with \`stack up -d ${service}\`` });
      const engine = await readEngine();
      const h = engine.runtime.load(project, first.id);
      const r = await engine.runtime.exec(h, argv, {
        ...(options.user !== undefined ? { user: options.user } : {}),
        ...(options.workingDir !== undefined ? { cwd: options.workingDir } : {}),
        ...(options.environment ? { env: options.environment } : {}),
        ...(options.privileged ? { privileged: true } : {}),
      });
      return { exitCode: r.exitCode, output: r.stdout + r.stderr };
    },

    busy: () => inFlight > 0,

    close() {
      closed = true;
      void reader?.then((e) => e.close(), () => undefined);
      reader = undefined;
    },
  };
}

/** The uid/gid the container's process runs as (root when the spec says nothing). */
function processUser(bundleDir: string): ProcessUser {
  try {
    const spec = JSON.parse(readFileSync(join(bundleDir, "config.json"), "utf8")) as { process?: { user?: { uid?: number; gid?: number } } };
    return { uid: spec.process?.user?.uid ?? 0, gid: spec.process?.user?.gid ?? 0 };
  } catch {
    return { uid: 0, gid: 0 };
  }
}
