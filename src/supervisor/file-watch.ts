// Live rebuild inside the supervisor: `stack watch -d` / `stack up -d --watch`
// hand the daemon how the CLI loaded the stack (FileWatchSpec); the daemon
// loads the same model itself, opens its own engine for the actions, and runs
// a Watcher until `stack watch --stop`, `stack down` or its own shutdown.
// Events go to the supervisor's log. Attached watches (a CLI running
// `stack watch` or `up --watch`) only register their services here, for the
// lifetime of their connection, so `stack ps` can tell what is watched and
// two watches of one project are refused.
//
// The spec is kept in $STATE/projects/<project>/file-watch.json (0600: it
// holds the environment) so a supervisor started after a crash watches again;
// `--stop` removes it, and `down` removes the project's state with it.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ConflictError, InvalidInputError, UnsupportedError } from "../errors.js";
import { writeFileAtomic } from "../fs/atomic-write.js";
import type { EngineWatchTarget } from "../engine/watch-target.js";
import type { Watcher } from "../watch/watcher.js";
import { projectStateDir } from "./paths.js";
import type { FileWatchSpec, FileWatchStatus, Request } from "./protocol.js";
import type { ExtraOps } from "./server.js";

export interface FileWatchHostOptions {
  project: string;
  stateDir: string;
  runDir: string;
  /** One line to the supervisor's log. */
  log(message: string): void;
  runtimeOverride?: string;
  /** The daemon's own entry, for the engine's supervisor connection. */
  supervisorEntry?: string;
}

interface Running {
  watcher: Watcher;
  target: EngineWatchTarget;
  services: string[];
  since: string;
}

export function fileWatchSpecPath(stateDir: string, project: string): string {
  return join(projectStateDir(stateDir, project), "file-watch.json");
}

export class FileWatchHost {
  private running: Running | undefined;
  private starting: Promise<Running> | undefined;
  private readonly attached = new Map<number, string[]>();
  private nextAttach = 0;

  constructor(private readonly opts: FileWatchHostOptions) {}

  /** A detached watch runs or is starting (the daemon must not stop when idle). */
  active(): boolean {
    return this.running !== undefined || this.starting !== undefined;
  }

  status(): FileWatchStatus {
    const attached = [...new Set([...this.attached.values()].flat())].sort();
    return { ...(this.running ? { detached: { services: this.running.services, since: this.running.since } } : {}), attached };
  }

  ops(): ExtraOps {
    return {
      fileWatchStart: async (frame) => {
        const r = await this.start((frame as Extract<Request, { op: "fileWatchStart" }>).spec);
        return { services: r.services };
      },
      fileWatchStop: async () => this.stop(),
      fileWatchStatus: async () => this.status(),
      fileWatchAttach: async (frame, onClose) => {
        const services = (frame as Extract<Request, { op: "fileWatchAttach" }>).services;
        if (this.active()) throw this.busyError();
        const id = ++this.nextAttach;
        this.attached.set(id, [...services].sort());
        onClose(() => this.attached.delete(id));
        return null;
      },
    };
  }

  async start(spec: FileWatchSpec): Promise<Running> {
    if (this.active()) throw this.busyError();
    if (this.attached.size > 0) {
      throw new ConflictError(`\`stack watch\` already runs in a terminal for ${this.status().attached.join(", ")}`, { hint: "stop it (Ctrl-C) first, then start the detached watch" });
    }
    if (spec.files.includes("-")) throw new UnsupportedError("a detached watch cannot read the stack file from stdin again", { hint: "write it to a file and pass it with -f" });
    const starting = this.begin(spec);
    this.starting = starting;
    try {
      const r = await starting;
      this.running = r;
      writeFileAtomic(fileWatchSpecPath(this.opts.stateDir, this.opts.project), JSON.stringify(spec), 0o600);
      this.opts.log(`file watch started: ${r.services.join(", ")}`);
      return r;
    } finally {
      this.starting = undefined;
    }
  }

  private busyError(): ConflictError {
    const what = this.running ? this.running.services.join(", ") : "(starting)";
    return new ConflictError(`the supervisor of project ${this.opts.project} already watches ${what}`, { hint: "stop it with `stack watch --stop` first" });
  }

  private async begin(spec: FileWatchSpec): Promise<Running> {
    const [{ loadStack }, { createWatchTarget }, { Watcher, formatWatchEvent }] = await Promise.all([
      import("../schema/load.js"),
      import("../engine/watch-target.js"),
      import("../watch/index.js"),
    ]);
    const { model, warnings } = await loadStack({
      files: spec.files,
      cwd: spec.cwd,
      env: spec.env,
      projectName: spec.projectName,
      projectDirectory: spec.projectDirectory,
      profiles: spec.profiles,
      envFiles: spec.envFiles,
      interpolate: true,
      services: spec.services,
    });
    for (const w of warnings) this.opts.log(`file watch: ${w}`);
    if (model.name !== this.opts.project) {
      throw new InvalidInputError(`the stack loads as project ${JSON.stringify(model.name)}, not ${JSON.stringify(this.opts.project)}`, { hint: "pass the same -p / files as the stack was started with" });
    }
    const target = createWatchTarget({
      settings: {
        model,
        stateDir: this.opts.stateDir,
        runDir: this.opts.runDir,
        env: spec.env,
        warn: (m) => this.opts.log(`file watch: ${m}`),
        ...(this.opts.runtimeOverride ? { runtimeOverride: this.opts.runtimeOverride } : {}),
        ...(this.opts.supervisorEntry ? { supervisorEntry: this.opts.supervisorEntry } : {}),
        ...(spec.registry ? { registry: spec.registry } : {}),
      },
    });
    const watcher = new Watcher({
      model,
      services: spec.services,
      port: target,
      rebuildOnChange: spec.rebuildOnChange,
      log: (e) => this.opts.log(`watch ${formatWatchEvent(e)}`),
    });
    try {
      await watcher.start();
    } catch (e) {
      target.close();
      await watcher.stop();
      throw e;
    }
    return { watcher, target, services: watcher.services, since: new Date().toISOString() };
  }

  /** Ends the detached watch and forgets its spec; false when none ran. */
  async stop(): Promise<boolean> {
    if (this.starting) await this.starting.catch(() => undefined);
    rmSync(fileWatchSpecPath(this.opts.stateDir, this.opts.project), { force: true });
    const r = this.running;
    if (!r) return false;
    this.running = undefined;
    await this.halt(r);
    this.opts.log("file watch stopped");
    return true;
  }

  /** The supervisor stops: the watch ends, its spec stays for the next supervisor. */
  async close(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const r = this.running;
    this.running = undefined;
    if (r) await this.halt(r);
  }

  /** Starts the watch a previous supervisor ran (after a crash or restart); failures are logged. */
  async resume(): Promise<void> {
    const path = fileWatchSpecPath(this.opts.stateDir, this.opts.project);
    if (!existsSync(path)) return;
    try {
      const spec = JSON.parse(readFileSync(path, "utf8")) as FileWatchSpec;
      await this.start(spec);
    } catch (e) {
      this.opts.log(`file watch not resumed: ${(e as Error).message}`);
    }
  }

  private async halt(r: Running): Promise<void> {
    r.target.close();
    await r.watcher.stop();
  }
}
