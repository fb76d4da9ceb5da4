// Loads the project's stack file(s) from the global flags and the environment
// captured in the CLI context; prints the loader's warnings once.
import { existsSync, readFileSync } from "node:fs";
import type { CliContext } from "./context.js";
import type { StackModel } from "../schema/model.js";

export interface LoadProjectOptions {
  services?: string[];
  interpolate?: boolean;
  /** false: always run the loading stages (`stack config`, which shows what the files say now); else the model cache may answer. */
  cache?: boolean;
  /** Files, project directory and name other than the command line's (a project as its state recorded it). */
  from?: { files: string[]; cwd: string; projectDirectory?: string; projectName: string };
}

export async function loadProject(ctx: CliContext, options: LoadProjectOptions = {}): Promise<{ model: StackModel }> {
  const { from } = options;
  const key = {
    files: from?.files ?? ctx.globals.file,
    cwd: from?.cwd ?? ctx.cwd,
    projectName: from?.projectName ?? ctx.globals.projectName,
    projectDirectory: from ? from.projectDirectory : ctx.globals.projectDirectory,
    profiles: ctx.globals.profile,
    envFiles: ctx.globals.envFile,
    interpolate: options.interpolate ?? true,
    services: options.services,
  };
  const cache = options.cache === false ? undefined : await import("./model-cache.js");
  const hit = cache?.cachedModel(ctx.stateDir, key, ctx.env);
  if (hit) {
    for (const w of hit.warnings) ctx.warn(w);
    return { model: hit.model };
  }
  const { loadStack, fileSystemReader } = await import("../schema/load.js");
  const record = cache?.newLoadRecord();
  const result = await loadStack({
    ...key,
    env: record ? cache!.recordingEnv(ctx.env, record) : ctx.env,
    reader: record ? cache!.recordingReader(fileSystemReader, record) : fileSystemReader,
    readStdin: () => readFileSync(0, "utf8"),
  });
  if (record) cache!.storeModel(ctx.stateDir, key, record, result);
  for (const w of result.warnings) ctx.warn(w);
  return { model: result.model };
}

/**
 * The project named by -p / STACK_PROJECT_NAME when no stack file was found
 * (`loadError` is that error): loaded from the files its state recorded when
 * they are still there, else rebuilt from its containers' recorded service
 * configurations (no volumes: `down -v` then keeps them, and says so).
 * undefined when the error is another one, no name was given, or nothing of
 * that project is recorded.
 */
export async function recordedProject(ctx: CliContext, loadError: unknown): Promise<StackModel | undefined> {
  const { NotFoundError } = await import("../errors.js");
  const name = ctx.globals.projectName ?? ctx.env.STACK_PROJECT_NAME ?? ctx.env.COMPOSE_PROJECT_NAME;
  if (!(loadError instanceof NotFoundError) || !/^no stack file found/.test(loadError.message) || !name || ctx.globals.file.length > 0) return undefined;
  const { readProjectState, statePath } = await import("../engine/state.js");
  if (!existsSync(statePath(ctx.stateDir, name))) return undefined;
  const state = readProjectState(ctx.stateDir, name);
  if (state.files.length > 0 && state.files.every((f) => f !== "-" && existsSync(f))) {
    ctx.warn(`no stack file here: using project ${name}'s files as recorded (${state.files.join(", ")})`);
    const from = { files: state.files, cwd: state.projectDir || ctx.cwd, projectName: name, ...(state.projectDir ? { projectDirectory: state.projectDir } : {}) };
    return (await loadProject(ctx, { from })).model;
  }
  ctx.warn(`no stack file here, and project ${name}'s recorded files are gone: working from its recorded containers (named volumes are not known, so none is removed)`);
  const services: StackModel["services"] = {};
  for (const r of Object.values(state.containers).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!r.oneOff && !(r.service in services)) services[r.service] = r.config as StackModel["services"][string];
  }
  return { name, project_dir: state.projectDir || ctx.cwd, files: [], profiles: [], services, disabled_services: {}, networks: {}, volumes: {}, secrets: {}, configs: {}, extensions: {} };
}
