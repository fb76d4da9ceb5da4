// Which changed host paths concern a watch rule. Three layers of exclusion,
// then the rule's `include`:
//   1. always: a `.git` directory anywhere below the rule path, and the files
//      editors write next to the ones you edit (swap, backup, lock files);
//   2. the service's .dockerignore, for paths inside its build context (the
//      Dockerfile and the ignore file itself stay visible: Docker reads them
//      whatever the ignore file says);
//   3. the rule's `ignore` list, .dockerignore syntax relative to the rule path.
// A non-empty `include` then keeps only the paths it matches (same syntax; a
// pattern that matches a directory matches everything below it).
import { basename, relative, sep } from "node:path";
import { compileIgnore, type IgnoreRules } from "../image/dockerignore.js";
import { InvalidInputError } from "../errors.js";

/** Names editors and tools create next to edited files; never synced, never a reason to rebuild. */
const EDITOR_FILES: RegExp[] = [
  /^\..*\.sw[a-p]$/, // vim swap files: .name.swp, .swo, .swn …
  /^\..*\.swpx$/,
  /^\..*\.swx$/,
  /^4913$/, // vim's probe file when it checks it may write to a directory
  /~$/, // vim/emacs backups
  /^\.#/, // emacs lock links
  /^#.*#$/, // emacs auto-save
  /___jb_(tmp|old|bak)___$/, // JetBrains safe-write
  /^\.DS_Store$/,
];

const ALWAYS_IGNORED_DIRS = new Set([".git"]);

export function isEditorFile(name: string): boolean {
  return EDITOR_FILES.some((re) => re.test(name));
}

export interface BuildContextIgnore {
  /** Absolute build context directory. */
  context: string;
  rules: IgnoreRules;
  /** Absolute paths that stay visible whatever the rules say (the Dockerfile, the ignore file). */
  keep: string[];
}

export interface PathFilterSpec {
  /** Absolute host path of the rule (a directory or a file). */
  path: string;
  ignore: string[];
  include: string[];
  buildIgnore?: BuildContextIgnore;
  /** Dotted path of the rule, for messages (`services.app.develop.watch[0]`). */
  origin: string;
}

export interface PathFilter {
  /** Whether a change to the absolute host path `p` concerns the rule. */
  accepts(p: string): boolean;
  /** Whether the directory `dir` and everything below it can be left unwatched. */
  prunes(dir: string): boolean;
}

/** Path of `p` relative to `root` with `/` separators; "" for root itself, undefined when outside. */
export function relativeInside(root: string, p: string): string | undefined {
  if (p === root) return "";
  const rel = relative(root, p);
  if (rel === "" || rel === ".." || rel.startsWith(".." + sep) || rel.startsWith(sep)) return undefined;
  return sep === "/" ? rel : rel.split(sep).join("/");
}

function compilePatterns(patterns: string[], where: string): IgnoreRules {
  // One pattern at a time first, so an error names the bad entry's index.
  patterns.forEach((p, i) => {
    if (p.includes("\n")) throw new InvalidInputError(`${where}[${i}]: pattern ${JSON.stringify(p)} spans several lines`, { hint: "write one pattern per list entry" });
    try {
      compileIgnore(p, `${where}[${i}]`);
    } catch (e) {
      if (e instanceof InvalidInputError) throw new InvalidInputError(e.message.replace(`${where}[${i}]:1:`, `${where}[${i}]:`), { hint: e.hint, cause: e });
      throw e;
    }
  });
  return compileIgnore(patterns.join("\n"), where);
}

export function compilePathFilter(spec: PathFilterSpec): PathFilter {
  const ignore = compilePatterns(spec.ignore, `${spec.origin}.ignore`);
  const include = compilePatterns(spec.include, `${spec.origin}.include`);
  const hasInclude = include.patterns.length > 0;
  const build = spec.buildIgnore;

  const alwaysIgnored = (rel: string, p: string): boolean => {
    const segments = rel === "" ? [basename(p)] : rel.split("/");
    if (segments.some((s) => ALWAYS_IGNORED_DIRS.has(s))) return true;
    return isEditorFile(segments[segments.length - 1]!);
  };

  const buildIgnored = (p: string): boolean => {
    if (!build) return false;
    const rel = relativeInside(build.context, p);
    if (rel === undefined || rel === "") return false;
    if (build.keep.includes(p)) return false;
    return build.rules.excludes(rel);
  };

  return {
    accepts(p: string): boolean {
      const rel = relativeInside(spec.path, p);
      if (rel === undefined) return false;
      if (alwaysIgnored(rel, p)) return false;
      if (buildIgnored(p)) return false;
      if (rel === "") return true; // the rule's own path: ignore/include lists are relative to it
      if (ignore.excludes(rel)) return false;
      if (hasInclude && !include.excludes(rel)) return false;
      return true;
    },
    prunes(dir: string): boolean {
      const rel = relativeInside(spec.path, dir);
      if (rel === undefined || rel === "") return false;
      if (rel.split("/").some((s) => ALWAYS_IGNORED_DIRS.has(s))) return true;
      if (!ignore.hasExceptions && ignore.excludes(rel)) return true;
      if (build && !build.rules.hasExceptions && buildIgnored(dir) && !build.keep.some((k) => relativeInside(dir, k) !== undefined)) return true;
      return false;
    },
  };
}
