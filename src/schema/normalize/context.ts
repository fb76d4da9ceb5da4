// What every normalizer of a stack's parts needs: where relative paths start,
// the environment, and how to report a value that cannot be normalized.
import { isAbsolute, resolve } from "node:path";
import { InvalidInputError } from "../../errors.js";
import { formatProblem, type Location, type PathSegment } from "../source.js";

export interface NormalizeContext {
  project: string;
  projectDir: string;
  env: Record<string, string>;
  readEnvFile(path: string, format?: string): Record<string, string> | undefined;
  locate?(path: PathSegment[]): Location | undefined;
  warnings: string[];
}

/** Throws the InvalidInputError for one bad value, with its location and dotted path. */
export function fail(ctx: NormalizeContext, path: PathSegment[], message: string, hint?: string): never {
  throw new InvalidInputError(formatProblem({ path, location: ctx.locate?.(path), message }), { hint });
}

/** A host path: `~` is the user's home (from the environment), relative paths start at the project directory. */
export function hostPath(ctx: NormalizeContext, p: string): string {
  if (p === "~" || p.startsWith("~/")) return resolve(ctx.env.HOME ?? "/root", p.slice(2));
  return isAbsolute(p) ? resolve(p) : resolve(ctx.projectDir, p);
}
