// Scalar forms compose accepts for one value (after interpolation a number
// or boolean may arrive as a string), and their fixed units in the model:
// durations in milliseconds, sizes in bytes.
import { fail, type NormalizeContext } from "./context.js";
import { dottedPath, type PathSegment } from "../source.js";

const durationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `1m30s`, `1.5s`, `100ms`, `1h`; a bare number is seconds. Undefined when malformed. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== "string") return undefined;
  const s = value.trim();
  if (/^(\d+(\.\d+)?|\.\d+)$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * durationUnits[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === s.length && s.length > 0 ? Math.round(total) : undefined;
}

const sizeUnits: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** `512m`, `1g`, `100k`, `1.5gb`, `2MiB` (binary multiples, as Docker); a number is bytes. `-1` only when allowed. */
export function parseBytes(value: unknown, allowUnlimited = false): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && (value >= 0 || (allowUnlimited && value === -1)) ? Math.round(value) : undefined;
  if (typeof value !== "string") return undefined;
  const s = value.trim().toLowerCase();
  if (allowUnlimited && s === "-1") return -1;
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([kmgtp]?)i?b?$/.exec(s);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * sizeUnits[m[2]!]!);
}

export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value !== "string") return undefined;
  const s = value.toLowerCase();
  if (["true", "yes", "on", "y"].includes(s)) return true;
  if (["false", "no", "off", "n"].includes(s)) return false;
  return undefined;
}

export function parseNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "string" && /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(value.trim())) return Number(value);
  return undefined;
}

/** A value still holding `${VAR}` (`config --no-interpolate`): it cannot be read as a number, size or port yet. */
export function isUninterpolated(value: unknown): value is string {
  return typeof value === "string" && value.includes("$");
}

export function uninterpolatedWarning(path: PathSegment[], value: string): string {
  return `${dottedPath(path)}: ${JSON.stringify(value)} is not interpolated; left out of the model`;
}

/** Readers that throw an InvalidInputError naming the path when the value is malformed; `undefined` in, `undefined` out. */
export function readers(ctx: NormalizeContext) {
  const check = <T>(path: PathSegment[], value: unknown, parsed: T | undefined, noun: string, expected: string): T | undefined => {
    if (value === undefined || value === null) return undefined;
    if (parsed === undefined && isUninterpolated(value)) {
      ctx.warnings.push(uninterpolatedWarning(path, value));
      return undefined;
    }
    if (parsed === undefined) fail(ctx, path, `${JSON.stringify(value)} is not ${noun}`, expected);
    return parsed;
  };
  return {
    duration: (path: PathSegment[], v: unknown) => check(path, v, parseDuration(v), "a duration", "expected e.g. 30s, 1m30s, 100ms"),
    bytes: (path: PathSegment[], v: unknown, unlimited = false) => check(path, v, parseBytes(v, unlimited), "a byte size", "expected e.g. 512m, 1g, 100k"),
    bool: (path: PathSegment[], v: unknown) => check(path, v, parseBoolean(v), "a boolean", "expected true or false"),
    number: (path: PathSegment[], v: unknown) => check(path, v, parseNumber(v), "a number", "expected e.g. 0.5 or 2"),
    fileMode: (path: PathSegment[], v: unknown) => check(path, v, parseFileMode(v), "a file mode", "expected an octal mode such as 0440"),
    integer: (path: PathSegment[], v: unknown) => check(path, v, Number.isInteger(parseNumber(v)) ? parseNumber(v) : undefined, "an integer", "expected a whole number"),
  };
}

/** Scalars as strings (`true` → "true", `1` → "1"); null stays null. */
export function scalarString(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : String(v);
}

/**
 * A list of `KEY=VALUE` or a mapping → sorted map. In a list, a bare `KEY`
 * (no `=`) gets `bare(KEY)`; in a mapping, a null value does.
 */
export function mapFrom(value: unknown, bare: (key: string) => string | null = () => ""): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(value)) {
    for (const item of value) {
      const s = String(item);
      const eq = s.indexOf("=");
      if (eq < 0) out[s] = bare(s);
      else out[s.slice(0, eq)] = s.slice(eq + 1);
    }
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = v === null || v === undefined ? bare(k) : scalarString(v);
  }
  return sortKeys(out);
}

/** A map of strings (labels, sysctls, options): bare keys and nulls become "". */
export function stringMap(value: unknown): Record<string, string> {
  const m = mapFrom(value, () => "");
  for (const key of Object.keys(m)) m[key] ??= "";
  return m as Record<string, string>;
}

/**
 * The map with its keys in code-unit order: `o` itself when they already are
 * (most maps are empty or have one key; callers pass maps they just built),
 * else a sorted copy.
 */
export function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  const keys = Object.keys(o);
  let inOrder = true;
  for (let i = 1; i < keys.length && inOrder; i++) inOrder = keys[i - 1]! < keys[i]!;
  if (inOrder) return o;
  keys.sort();
  const out: Record<string, T> = {};
  for (const key of keys) out[key] = o[key]!;
  return out;
}

export function stringList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map((v) => String(v));
  return [String(value)];
}

/**
 * A file mode. Strings are octal as written ("0440", "0o440"); a number is
 * taken as is (the YAML reader already reads a plain 0440 as octal, as Compose does).
 */
export function parseFileMode(value: unknown): number | undefined {
  if (typeof value === "string") return /^(0o?)?[0-7]+$/.test(value) ? Number.parseInt(value.replace(/^0o/, ""), 8) : undefined;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  return undefined;
}
