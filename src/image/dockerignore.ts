// .dockerignore: which paths of a build context are left out, with Docker's
// rules. Lines starting with `#` are comments, blank lines are skipped, every
// pattern is cleaned like Go's filepath.Clean with a leading `/` dropped;
// `*` and `?` stay inside one path segment, `**` crosses any number of them,
// `[…]` is a character class and `\` escapes. A pattern that matches a
// directory also matches everything below it. `!` makes an exception, and
// the last pattern that matches a path decides. The Dockerfile and the
// .dockerignore file are paths like any other: an excluded Dockerfile still
// drives the build, it just cannot be COPYed.
import { posix } from "node:path";
import { InvalidInputError } from "../errors.js";

export interface IgnorePattern {
  /** The cleaned pattern, without its `!`. */
  pattern: string;
  exception: boolean;
  regexp: RegExp;
  /** 1-based line in the ignore file. */
  line: number;
}

export interface IgnoreRules {
  patterns: IgnorePattern[];
  /** True when some `!` pattern may bring back a path below an excluded directory, so a walk must still enter it. */
  hasExceptions: boolean;
  /** Whether `relPath` (slash-separated, relative to the context) is left out of the context. */
  excludes(relPath: string): boolean;
}

/** Go's filepath.Clean for slash-separated paths. */
export function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(seg);
  }
  const joined = out.join("/");
  if (rooted) return "/" + joined;
  return joined === "" ? "." : joined;
}

const regexpSpecials = new Set([".", "+", "(", ")", "|", "{", "}", "^", "$"]);

/** The regular expression for one cleaned pattern (anchored at both ends). */
export function patternToRegExp(pattern: string): RegExp {
  const chars = [...pattern];
  let re = "^";
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === "*") {
      if (chars[i + 1] === "*") {
        i++;
        if (chars[i + 1] === "/") i++;
        re += i + 1 >= chars.length ? ".*" : "(.*/)?";
      } else re += "[^/]*";
    } else if (ch === "?") re += "[^/]";
    else if (regexpSpecials.has(ch)) re += "\\" + ch;
    else if (ch === "\\") {
      const n = chars[i + 1];
      if (n === undefined) re += "\\\\";
      else {
        re += /[A-Za-z0-9]/.test(n) ? n : "\\" + n;
        i++;
      }
    } else if (ch === "[" || ch === "]") re += ch; // classes pass through, as in Docker's matcher
    else re += ch;
  }
  try {
    return new RegExp(re + "$", "s");
  } catch {
    throw new Error("syntax error in pattern");
  }
}

/** Parse the text of a .dockerignore file; `file` names it in errors. */
export function compileIgnore(text: string, file = ".dockerignore"): IgnoreRules {
  const patterns: IgnorePattern[] = [];
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  lines.forEach((raw, index) => {
    const line = raw.replace(/\r$/, "");
    if (line.startsWith("#")) return;
    let p = line.trim();
    if (p === "") return;
    const exception = p.startsWith("!");
    if (exception) {
      p = p.slice(1).trim();
      if (p === "") throw new InvalidInputError(`${file}:${index + 1}: illegal exclusion pattern "!"`, { hint: "write the path to bring back after the !, e.g. !keep.txt" });
    }
    p = cleanPath(p);
    if (p.length > 1 && p.startsWith("/")) p = p.slice(1);
    let regexp: RegExp;
    try {
      regexp = patternToRegExp(p);
    } catch (e) {
      throw new InvalidInputError(`${file}:${index + 1}: bad pattern "${line.trim()}": ${(e as Error).message}`, { hint: "close every [ with ] or escape it as \\[" });
    }
    patterns.push({ pattern: p, exception, regexp, line: index + 1 });
  });
  const hasExceptions = patterns.some((p) => p.exception);
  return {
    patterns,
    hasExceptions,
    excludes(relPath: string): boolean {
      const path = cleanPath(relPath);
      const parents = path.split("/").slice(0, -1);
      let excluded = false;
      for (const p of patterns) {
        // Skip a pattern that cannot change the outcome (Docker does the same).
        if (p.exception !== excluded) continue;
        let match = p.regexp.test(path);
        for (let i = 1; !match && i <= parents.length; i++) match = p.regexp.test(parents.slice(0, i).join("/"));
        if (match) excluded = !p.exception;
      }
      return excluded;
    },
  };
}

/**
 * The ignore files to try for a build, in order: `<Dockerfile>.dockerignore`
 * next to the Dockerfile, then `.dockerignore` at the context root. The first
 * that exists is used alone.
 */
export function ignoreFileCandidates(contextDir: string, dockerfilePath: string): string[] {
  const dockerfile = posix.resolve(contextDir, dockerfilePath);
  return [`${dockerfile}.dockerignore`, posix.join(posix.resolve(contextDir), ".dockerignore")];
}
