// The project name: `-p`, else STACK_PROJECT_NAME / COMPOSE_PROJECT_NAME,
// else the top-level `name:`, else the project directory's basename. A name
// the user chose must already be valid; one derived from a folder is made so.
import { basename } from "node:path";
import { InvalidInputError } from "../errors.js";

const VALID = /^[a-z0-9][a-z0-9_-]*$/;

/** Lowercase, only [a-z0-9_-], no leading `_` or `-`. */
export function normalizeProjectName(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "")
    .replace(/^[_-]+/, "");
}

export interface ProjectNameInput {
  /** `-p` */
  flag?: string;
  /** The environment (shell over .env). */
  env: Record<string, string | undefined>;
  /** The merged, interpolated top-level `name:`. */
  docName?: unknown;
  projectDir: string;
}

export function resolveProjectName(input: ProjectNameInput): string {
  const explicit: Array<[string | undefined, string]> = [
    [input.flag, "-p/--project-name"],
    [input.env.STACK_PROJECT_NAME, "STACK_PROJECT_NAME"],
    [input.env.COMPOSE_PROJECT_NAME, "COMPOSE_PROJECT_NAME"],
    [input.docName === undefined || input.docName === null ? undefined : String(input.docName), "the top-level `name:`"],
  ];
  for (const [value, source] of explicit) {
    if (value === undefined || value === "") continue;
    if (!VALID.test(value)) {
      const suggestion = normalizeProjectName(value);
      throw new InvalidInputError(`invalid project name ${JSON.stringify(value)} (from ${source}): use lowercase letters, digits, "_" and "-", starting with a letter or digit`, {
        hint: suggestion ? `use ${JSON.stringify(suggestion)}` : "choose a name such as \"myapp\"",
      });
    }
    return value;
  }
  const dir = basename(input.projectDir);
  const derived = normalizeProjectName(dir);
  if (derived === "") {
    throw new InvalidInputError(`cannot derive a project name from the directory name ${JSON.stringify(dir)}`, {
      hint: "name the project with -p NAME or a top-level `name:` in the stack file",
    });
  }
  return derived;
}
