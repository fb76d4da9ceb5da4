// The project's recorded state: which containers stack made for it, from which
// config (hash + canonical snapshot, to explain recreates) and image.
// `$STACK_STATE_DIR/projects/<project>/state.json`, written atomically; only a
// command holding the project lock writes it.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../fs/atomic-write.js";
import { SystemError } from "../errors.js";

export interface ContainerRecord {
  name: string;
  /** Runtime id (unique per creation; a recreate gets a new one). */
  id: string;
  service: string;
  index: number;
  configHash: string;
  config: unknown;
  image: { ref: string; digest: string };
  createdAt: string;
  /** `stack run` containers: not part of the service's replicas. */
  oneOff?: boolean;
  /** What it runs (entrypoint + command against the image), for `ps`; absent in records of older versions. */
  command?: string[];
}

export interface ProjectState {
  version: 1;
  project: string;
  projectDir: string;
  files: string[];
  containers: Record<string, ContainerRecord>;
}

export function projectDir(stateDir: string, project: string): string {
  return join(stateDir, "projects", project);
}

export function statePath(stateDir: string, project: string): string {
  return join(projectDir(stateDir, project), "state.json");
}

export function readProjectState(stateDir: string, project: string): ProjectState {
  const path = statePath(stateDir, project);
  try {
    return readJson<ProjectState>(path, { version: 1, project, projectDir: "", files: [], containers: {} });
  } catch (e) {
    throw new SystemError(`cannot read ${path}: ${(e as Error).message}`, {
      cause: e,
      hint: "the file is damaged; `stack down` of the project removes what it can, or move the file away",
    });
  }
}

/** `durable: false` skips the fsyncs (the caller makes a durable write at the end of its command). */
export function writeProjectState(stateDir: string, state: ProjectState, options: { durable?: boolean } = {}): void {
  writeJsonAtomic(statePath(stateDir, state.project), state, options);
}

/** Names of every project with recorded state (for `stack ls`). */
export function listProjects(stateDir: string): string[] {
  try {
    return readdirSync(join(stateDir, "projects")).sort();
  } catch {
    return [];
  }
}
