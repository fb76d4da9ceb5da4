// Which stack files to load, and the project directory: `-f` (repeatable,
// `-` = stdin), else STACK_FILE / COMPOSE_FILE (a path-separator list), else
// the first of the standard names in the working directory or a parent, plus
// its `*.override.*` twin.
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, delimiter, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { InvalidInputError, NotFoundError } from "../errors.js";
import { STANDARD_FILE_NAMES } from "./file-names.js";

/** Reads files for the loader; the one place that touches the file system. */
export interface SourceReader {
  /** The file's text, or undefined when it does not exist. Throws InvalidInputError for a directory or an unreadable file. */
  readText(path: string): string | undefined;
}

/** The real reader (node:fs). */
export const fileSystemReader: SourceReader = {
  readText(path: string): string | undefined {
    if (!existsSync(path)) return undefined;
    if (statSync(path).isDirectory()) {
      throw new InvalidInputError(`${JSON.stringify(path)} is a directory, not a file`, { hint: "name the file inside it" });
    }
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      throw new InvalidInputError(`cannot read ${JSON.stringify(path)}: ${(e as Error).message}`, { hint: "check the file's permissions", cause: e });
    }
  },
};

export { STANDARD_FILE_NAMES };

export interface StackFileRef {
  /** Absolute path, or "-" for stdin. */
  path: string;
  /** The name used in messages: as the user wrote it, or relative to the working directory. */
  display: string;
}

export interface Discovery {
  files: StackFileRef[];
  /** Absolute project directory. */
  projectDir: string;
  warnings: string[];
}

export interface DiscoverInput {
  files: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  projectDirectory?: string;
}

export function discoverStackFiles(input: DiscoverInput, reader: SourceReader): Discovery {
  const warnings: string[] = [];
  let files: StackFileRef[];
  if (input.files.length > 0) {
    files = input.files.map((f) => (f === "-" ? { path: "-", display: "-" } : { path: resolve(input.cwd, f), display: f }));
  } else {
    const fromEnv = input.env.STACK_FILE || input.env.COMPOSE_FILE;
    if (fromEnv) {
      const separator = input.env.COMPOSE_PATH_SEPARATOR || delimiter;
      files = fromEnv
        .split(separator)
        .filter((f) => f !== "")
        .map((f) => ({ path: resolve(input.cwd, f), display: f }));
    } else {
      files = searchStandardFiles(input.projectDirectory ? resolve(input.cwd, input.projectDirectory) : input.cwd, input.cwd, reader, warnings);
    }
  }
  // Like compose: the first file's folder; the working directory for stdin.
  const projectDir = input.projectDirectory
    ? resolve(input.cwd, input.projectDirectory)
    : files[0] && files[0].path !== "-"
      ? dirname(files[0].path)
      : input.cwd;
  return { files, projectDir, warnings };
}

function searchStandardFiles(start: string, cwd: string, reader: SourceReader, warnings: string[]): StackFileRef[] {
  for (let dir = start; ; dir = dirname(dir)) {
    const found = STANDARD_FILE_NAMES.filter((name) => isFile(reader, join(dir, name)));
    if (found.length > 0) {
      const chosen = found[0]!;
      if (found.length > 1) warnings.push(`found several stack files in ${dir}: ${found.join(", ")}; using ${chosen}`);
      const refs = [refFor(join(dir, chosen), cwd)];
      const twin = overrideTwin(dir, chosen, reader);
      if (twin) refs.push(refFor(twin, cwd));
      return refs;
    }
    if (dirname(dir) === dir) break;
  }
  throw new NotFoundError(`no stack file found in ${start} or any parent directory (looked for ${STANDARD_FILE_NAMES.join(", ")})`, {
    hint: "create a compose.yaml there, name a file with -f FILE, or set STACK_FILE",
  });
}

/** `compose.yaml` → `compose.override.yaml` (or `.yml`), when it exists. */
function overrideTwin(dir: string, name: string, reader: SourceReader): string | undefined {
  const stem = basename(name, extname(name));
  for (const ext of [extname(name), extname(name) === ".yaml" ? ".yml" : ".yaml"]) {
    const candidate = join(dir, `${stem}.override${ext}`);
    if (isFile(reader, candidate)) return candidate;
  }
  return undefined;
}

function isFile(reader: SourceReader, path: string): boolean {
  try {
    return reader.readText(path) !== undefined;
  } catch {
    return false;
  }
}

function refFor(path: string, cwd: string): StackFileRef {
  const rel = relative(cwd, path);
  return { path, display: rel === "" || isAbsolute(rel) ? path : rel };
}

/** The message name of a file that a stack file refers to (extends, include). */
export function displayName(path: string, cwd: string): string {
  return refFor(path, cwd).display;
}
