// Vocabulary shared by the loading stages: where a value came from, and a
// problem found in it. A problem is data; the stage that collects problems
// turns them into one InvalidInputError listing all of them.

export type PathSegment = string | number;

export interface Location {
  file: string; // as the user named it (relative to cwd when possible), or "-" for stdin
  line: number; // 1-based
  col: number; // 1-based
}

/** One stack file after YAML parsing (and, later, interpolation). */
export interface ParsedFile {
  path: string;
  doc: Record<string, unknown>;
  /** Where the value at a dotted path was written, or undefined when unknown. */
  locate(path: PathSegment[]): Location | undefined;
}

export interface Problem {
  path: PathSegment[];
  location?: Location;
  /** Starts with the dotted path's value description, e.g. `"80x:80" is not a port mapping (expected [HOST:]CONTAINER[/PROTOCOL])`. */
  message: string;
  hint?: string;
}

/** `services.web.ports[0]` */
export function dottedPath(path: PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

/** `compose.yaml:12:7: services.web.ports[0]: "80x:80" is not … (hint)` */
export function formatProblem(p: Problem): string {
  const where = p.location ? `${p.location.file}:${p.location.line}:${p.location.col}: ` : "";
  const path = p.path.length > 0 ? `${dottedPath(p.path)}: ` : "";
  return `${where}${path}${p.message}${p.hint ? ` (${p.hint})` : ""}`;
}
