// The loading pipeline, from files on disk to one StackModel:
//
//   discover files → .env → per file: parse YAML → interpolate → validate
//   → per file: extends, include → merge the files → project name
//   → normalize → semantic checks → profiles
//
// Each stage is a pure function of its own module; this file wires them and
// owns the only file reads (through a SourceReader). The validation,
// normalization and semantic stages are injected (`loadStackWith`) so the
// loading stages are tested on their own.
import { join, resolve } from "node:path";
import { InvalidInputError, NotFoundError } from "../errors.js";
import { displayName, discoverStackFiles, fileSystemReader, type SourceReader, type StackFileRef } from "./discover.js";
import { parseDotenv } from "./dotenv.js";
import { folderOf, resolveExtends, type Locator, type SourceFile } from "./extends.js";
import { importIncluded, parseIncludeEntries } from "./include.js";
import { interpolateFile, type Lookup } from "./interpolate.js";
import { copyTree, mergeDocuments, type Doc } from "./merge.js";
import type { StackModel } from "./model.js";
// Every caller of loadStack runs these stages: imported with this module (one
// file of the bundle, rather than three more dynamic imports).
import { normalizeStack, type NormalizeInput } from "./normalize.js";
import { checkStack } from "./semantics.js";
import { validateFile } from "./validate.js";
import { activeProfiles, applyProfiles } from "./profiles.js";
import { resolveProjectName } from "./project-name.js";
import { relocateDocument } from "./relocate.js";
import { formatProblem, type Location, type ParsedFile, type PathSegment, type Problem } from "./source.js";
import { parseYamlFile } from "./yaml-file.js";

export { fileSystemReader };

export interface LoadOptions {
  /** `-f` values in order; "-" = stdin; empty = discover. */
  files: string[];
  cwd: string;
  /** The process environment, passed in by cli/. */
  env: Record<string, string | undefined>;
  projectName?: string;
  projectDirectory?: string;
  profiles: string[];
  /** `--env-file` values (relative to cwd); empty = the project directory's `.env`, when present. */
  envFiles: string[];
  /** false = keep `${…}` as written (`config --no-interpolate`). */
  interpolate: boolean;
  /** Services named explicitly on the command line: enabled even if their profile isn't. */
  services?: string[];
  readStdin?: () => string;
  /** Called with each warning as it is found (they are also returned). */
  warn?: (msg: string) => void;
  /** Reads the files (default: node:fs); the model cache passes one that notes what was read. */
  reader?: SourceReader;
}

export interface LoadResult {
  model: StackModel;
  warnings: string[];
}

/** The stages this pipeline delegates: validation, normalization, semantic checks, and file reading. */
export interface LoadDeps {
  reader: SourceReader;
  validateFile(file: ParsedFile): Problem[];
  normalizeStack(input: NormalizeInput): { model: StackModel; warnings: string[] };
  checkStack(model: StackModel, locate?: (path: PathSegment[]) => Location | undefined): Problem[];
}

export async function loadStack(opts: LoadOptions): Promise<LoadResult> {
  return loadStackWith({ reader: opts.reader ?? fileSystemReader, validateFile, normalizeStack, checkStack }, opts);
}

export function loadStackWith(deps: LoadDeps, opts: LoadOptions): LoadResult {
  return new StackLoader(deps, opts).load();
}

/** Throws one InvalidInputError listing every problem, when there are any. */
export function throwProblems(problems: Problem[]): void {
  if (problems.length === 0) return;
  const files = new Set(problems.map((p) => p.location?.file).filter((f) => f !== undefined));
  const n = problems.length;
  throw new InvalidInputError(`${n} problem${n === 1 ? "" : "s"} in the stack file${files.size > 1 ? "s" : ""}`, { problems: problems.map(formatProblem) });
}

interface Project {
  doc: Doc;
  locate: Locator;
}

class StackLoader {
  private readonly warnings: string[] = [];
  private readonly unsetSeen = new Set<string>();

  constructor(
    private readonly deps: LoadDeps,
    private readonly opts: LoadOptions,
  ) {}

  load(): LoadResult {
    const { opts } = this;
    const discovery = discoverStackFiles({ files: opts.files, cwd: opts.cwd, env: this.discoveryEnv(), projectDirectory: opts.projectDirectory }, this.deps.reader);
    discovery.warnings.forEach((w) => this.warn(w));
    const { projectDir } = discovery;

    // Views, not copies: the environment is read one variable at a time, so the model cache knows which.
    const shell = envView((k) => definedIn(opts.env, k), () => Object.keys(opts.env).filter((k) => definedIn(opts.env, k) !== undefined));
    const dotenv = this.readProjectEnvFiles(projectDir, shell);
    const env = envView(
      (k) => definedIn(opts.env, k) ?? (Object.hasOwn(dotenv, k) ? dotenv[k] : undefined),
      () => [...new Set([...Object.keys(dotenv), ...Object.keys(shell)])],
    );
    const lookup: Lookup = (name) => (Object.hasOwn(env, name) ? env[name] : undefined);

    const project = this.loadProject(discovery.files, lookup, projectDir, []);
    const doc = project.doc;
    const name = resolveProjectName({ flag: opts.projectName, env, docName: doc.name, projectDir });
    const profiles = activeProfiles(opts.profiles, env);

    const normalized = this.deps.normalizeStack({
      name,
      projectDir,
      files: discovery.files.map((f) => f.path),
      profiles,
      doc,
      env,
      readEnvFile: (path, format) => this.readEnvFile(path, format, lookup),
      locate: project.locate,
    });
    normalized.warnings.forEach((w) => this.warn(w));
    throwProblems(this.deps.checkStack(normalized.model, project.locate));
    const model = applyProfiles(normalized.model, profiles, opts.services ?? []);
    return { model, warnings: this.warnings };
  }

  /**
   * Like compose, STACK_FILE / COMPOSE_FILE may also come from the `.env` of
   * the working (or --project-directory) folder, when the shell sets neither.
   */
  private discoveryEnv(): Record<string, string | undefined> {
    const { opts } = this;
    if (opts.files.length > 0 || opts.env.STACK_FILE || opts.env.COMPOSE_FILE || opts.envFiles.length > 0) return opts.env;
    const dir = opts.projectDirectory ? resolve(opts.cwd, opts.projectDirectory) : opts.cwd;
    const text = this.deps.reader.readText(join(dir, ".env"));
    if (text === undefined || !/\b(STACK|COMPOSE)_FILE\b/.test(text)) return opts.env;
    const values = parseDotenv(text, displayName(join(dir, ".env"), opts.cwd), (n) => opts.env[n]);
    return { ...opts.env, STACK_FILE: values.STACK_FILE, COMPOSE_FILE: values.COMPOSE_FILE, COMPOSE_PATH_SEPARATOR: opts.env.COMPOSE_PATH_SEPARATOR ?? values.COMPOSE_PATH_SEPARATOR };
  }

  private warn(message: string): void {
    if (this.warnings.includes(message)) return;
    this.warnings.push(message);
    this.opts.warn?.(message);
  }

  /** `--env-file` values, else `<project>/.env`; later files win; shell values are the lookup. */
  private readProjectEnvFiles(projectDir: string, shell: Record<string, string>): Record<string, string> {
    const explicit = this.opts.envFiles.map((f) => resolve(this.opts.cwd, f));
    return this.readEnvFiles(explicit, join(projectDir, ".env"), (n) => (Object.hasOwn(shell, n) ? shell[n] : undefined));
  }

  private readEnvFiles(explicit: string[], fallback: string, lookup: Lookup): Record<string, string> {
    const files = explicit.length > 0 ? explicit : [fallback];
    let values: Record<string, string> = {};
    for (const file of files) {
      const text = this.deps.reader.readText(file);
      if (text === undefined) {
        if (explicit.length === 0) continue;
        throw new NotFoundError(`env file ${displayName(file, this.opts.cwd)} not found`, { hint: "check the --env-file / env_file path" });
      }
      const known = values;
      values = { ...values, ...parseDotenv(text, displayName(file, this.opts.cwd), (n) => lookup(n) ?? (Object.hasOwn(known, n) ? known[n] : undefined)) };
    }
    return values;
  }

  /** env_file reader for the normalizer: undefined = missing. */
  private readEnvFile(path: string, format: string | undefined, lookup: Lookup): Record<string, string> | undefined {
    const text = this.deps.reader.readText(path);
    if (text === undefined) return undefined;
    if (format === "raw") return parseRawEnvFile(text);
    return parseDotenv(text, displayName(path, this.opts.cwd), lookup);
  }

  /**
   * Loads the files of one project (the main one, or an included one) and
   * merges them. `chain` holds the include chain, for cycle detection.
   */
  private loadProject(refs: StackFileRef[], lookup: Lookup, projectDir: string, chain: string[]): Project {
    const cache = new Map<string, SourceFile>();
    const problems: Problem[] = [];
    const sources = refs.map((ref) => this.loadSource(ref, lookup, cache, problems));
    throwProblems(problems);
    const loadOther = (abs: string): SourceFile => {
      const more: Problem[] = [];
      const source = this.loadSource({ path: abs, display: displayName(abs, this.opts.cwd) }, lookup, cache, more, "named by `extends`");
      throwProblems(more);
      return source;
    };

    let merged: Doc = {};
    const locators: Locator[] = [];
    for (const source of sources) {
      const extended = resolveExtends(source, loadOther);
      let doc = extended.doc;
      const fileLocators: Locator[] = [extended.locate];
      if (doc.include !== undefined) {
        const entries = parseIncludeEntries(doc.include, source.dir, (i) => source.file.locate(["include", i]));
        const { include: _consumed, ...rest } = doc;
        doc = rest;
        for (const entry of entries) {
          const first = entry.paths[0]!;
          const here = [...chain, refs[0]!.path];
          if (here.includes(first) || refs.some((r) => r.path === first)) {
            const names = [...here, first].map((p) => displayName(p, this.opts.cwd));
            throw new InvalidInputError(`include cycle: ${names.join(" -> ")}`, { hint: "remove one of the `include` entries in the cycle" });
          }
          const envValues = this.readEnvFiles(entry.envFiles, join(entry.projectDir, ".env"), lookup);
          const includedLookup: Lookup = (n) => lookup(n) ?? (Object.hasOwn(envValues, n) ? envValues[n] : undefined);
          const includedRefs = entry.paths.map((p) => ({ path: p, display: displayName(p, this.opts.cwd) }));
          const sub = this.loadProject(includedRefs, includedLookup, entry.projectDir, here);
          const subDoc = entry.projectDir === projectDir ? sub.doc : relocateDocument(sub.doc, entry.projectDir);
          doc = importIncluded(doc, subDoc, includedRefs[0]!.display, source.file.path);
          fileLocators.push(sub.locate);
        }
      }
      merged = mergeDocuments(merged, doc, { resets: source.file.resets, overrides: source.file.overrides });
      locators.push((path) => firstLocation(fileLocators, path));
    }
    const reversed = [...locators].reverse();
    return { doc: merged, locate: (path) => firstLocation(reversed, path) };
  }

  private loadSource(ref: StackFileRef, lookup: Lookup, cache: Map<string, SourceFile>, problems: Problem[], why?: string): SourceFile {
    const cached = cache.get(ref.path);
    if (cached) return cached;
    let text: string | undefined;
    if (ref.path === "-") {
      if (!this.opts.readStdin) throw new InvalidInputError("`-f -` reads the stack file from stdin, but no input is available", { hint: "pipe the file in" });
      text = this.opts.readStdin();
    } else {
      text = this.deps.reader.readText(ref.path);
    }
    if (text === undefined) {
      throw new NotFoundError(`stack file ${ref.display}${why ? ` (${why})` : ""} not found`, { hint: "check the path; relative paths are relative to the current directory (-f) or to the file that names them" });
    }
    const parsed = parseYamlFile(text, ref.display);
    let file = parsed;
    if (this.opts.interpolate) {
      const result = interpolateFile(parsed, lookup, parsed.aliased);
      for (const u of result.unset) {
        if (this.unsetSeen.has(u.name)) continue;
        this.unsetSeen.add(u.name);
        this.warn(`${u.where}: variable "${u.name}" is not set; using an empty string`);
      }
      file = { ...parsed, doc: result.doc, aliased: new Set() }; // (it shares nothing: see interpolateFile)
    } else {
      file = { ...parsed, doc: copyTree(parsed.doc) as Doc, aliased: new Set() };
    }
    problems.push(...this.deps.validateFile(file));
    const source: SourceFile = { abs: ref.path, dir: folderOf(ref.path, this.opts.cwd), file };
    cache.set(ref.path, source);
    return source;
  }
}

function firstLocation(locators: Locator[], path: PathSegment[]): Location | undefined {
  for (const locate of locators) {
    const hit = locate(path);
    if (hit) return hit;
  }
  return undefined;
}

function definedIn(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = Object.hasOwn(env, name) ? env[name] : undefined;
  return typeof v === "string" ? v : undefined;
}

/** A read-only record whose values come from `get`, looked up when asked (enumerating it calls `keys`). */
function envView(get: (name: string) => string | undefined, keys: () => string[]): Record<string, string> {
  const value = (k: string | symbol) => (typeof k === "string" ? get(k) : undefined);
  return new Proxy({} as Record<string, string>, {
    get: (_t, k) => value(k),
    has: (_t, k) => value(k) !== undefined,
    getOwnPropertyDescriptor: (_t, k) => {
      const v = value(k);
      return v === undefined ? undefined : { value: v, writable: false, enumerable: true, configurable: true };
    },
    ownKeys: () => keys(),
    set: () => false,
    deleteProperty: () => false,
  });
}

/** `env_file: {format: raw}`: KEY=VALUE lines taken literally (no quotes, escapes or variables). */
export function parseRawEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) out[line.trim()] = "";
    else out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}
