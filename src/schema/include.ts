// Top-level `include`: other stack files loaded as projects of their own
// (their own project directory and .env), whose services, networks, volumes,
// secrets and configs are added to the including file. A resource defined
// differently on both sides is an error, as in compose.
import { dirname, resolve } from "node:path";
import { InvalidInputError } from "../errors.js";
import { canonicalJson, isMapping, type Doc } from "./merge.js";
import { formatProblem, type Location } from "./source.js";

export interface IncludeEntry {
  /** Absolute paths of the files, merged in order. */
  paths: string[];
  /** Absolute project directory of the included project. */
  projectDir: string;
  /** Absolute env files; empty = the included project directory's `.env`, when present. */
  envFiles: string[];
}

/**
 * Reads the `include` list of one file. Paths are relative to `dir`, the
 * including file's folder. `locate` gives messages a position.
 */
export function parseIncludeEntries(value: unknown, dir: string, locate: (i: number) => Location | undefined): IncludeEntry[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((item, i) => {
    const fail = (message: string): never => {
      throw new InvalidInputError(formatProblem({ path: ["include", i], location: locate(i), message }), {
        hint: "write a path, or {path: FILE or [FILES], project_directory: DIR, env_file: FILE or [FILES]}",
      });
    };
    const list = (v: unknown, what: string): string[] => {
      if (v === undefined || v === null) return [];
      const values = Array.isArray(v) ? v : [v];
      if (!values.every((x) => typeof x === "string" && x !== "")) fail(`${what} ${JSON.stringify(v)} is not a path or a list of paths`);
      return (values as string[]).map((p) => resolve(dir, p));
    };
    if (typeof item === "string") {
      const path = resolve(dir, item);
      return { paths: [path], projectDir: dirname(path), envFiles: [] };
    }
    if (!isMapping(item)) return fail(`${JSON.stringify(item)} is not an include entry`);
    const paths = list(item.path, "path");
    if (paths.length === 0) fail("the include entry has no `path`");
    const projectDir = typeof item.project_directory === "string" ? resolve(dir, item.project_directory) : dirname(paths[0]!);
    return { paths, projectDir, envFiles: list(item.env_file, "env_file") };
  });
}

const SECTIONS = ["services", "networks", "volumes", "secrets", "configs"] as const;

/**
 * Adds an included project's resources to `doc`. `from` names the included
 * file and `into` the including one, for the conflict message.
 */
export function importIncluded(doc: Doc, included: Doc, from: string, into: string): Doc {
  const out: Doc = { ...doc };
  for (const section of SECTIONS) {
    const theirs = included[section];
    if (!isMapping(theirs)) continue;
    const ours: Doc = isMapping(out[section]) ? { ...(out[section] as Doc) } : {};
    for (const name of Object.keys(theirs).sort()) {
      if (Object.hasOwn(ours, name) && canonicalJson(ours[name]) !== canonicalJson(theirs[name])) {
        throw new InvalidInputError(`${from} (included by ${into}) defines ${section}.${name}, which ${into} also defines differently`, {
          hint: `rename one of them, or drop ${section}.${name} from ${into}; to change an included service, use an override file (-f) instead`,
        });
      }
      ours[name] = theirs[name];
    }
    out[section] = ours;
  }
  return out;
}
