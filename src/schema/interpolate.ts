// Variable substitution in stack file values (never in keys), by the compose
// rules: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
// ${VAR?error}, ${VAR:+alternative}, ${VAR+alternative}, nested expressions in
// the word after the operator, and `$$` for a literal `$`. A `$` not followed
// by a name or `{` stays as written.
import { InvalidInputError } from "../errors.js";
import { formatProblem, type ParsedFile, type PathSegment } from "./source.js";

/** Returns a variable's value, or undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

export interface Substitution {
  value: string;
  /** Variables used without a default that were not set (in order of use, unique). */
  unset: string[];
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/**
 * Substitutes the variables of one string. Throws InvalidInputError (without
 * location: the caller adds it) for a `?` operator on an unset variable or a
 * malformed `${…}`.
 */
export function substituteVariables(text: string, lookup: Lookup): Substitution {
  if (!text.includes("$")) return { value: text, unset: [] };
  const unset: string[] = [];
  const scanner = { text, pos: 0 };
  const value = expand(scanner, lookup, unset, true, false);
  return { value, unset };
}

interface Scanner {
  text: string;
  pos: number;
}

// Reads until the end of the text (or, inside a `${…}` word, up to its closing
// brace). With `evaluate` false it only skips, so a default that is not used
// neither warns nor fails.
function expand(s: Scanner, lookup: Lookup, unset: string[], evaluate: boolean, inWord: boolean): string {
  let out = "";
  while (s.pos < s.text.length) {
    const c = s.text[s.pos]!;
    if (inWord && c === "}") return out;
    if (c !== "$") {
      // Copy the run of text up to the next `$` (or, in a word, `}`) at once.
      let end = s.text.indexOf("$", s.pos);
      if (end < 0) end = s.text.length;
      if (inWord) {
        const brace = s.text.indexOf("}", s.pos);
        if (brace >= 0 && brace < end) end = brace;
      }
      out += s.text.slice(s.pos, end);
      s.pos = end;
      continue;
    }
    const next = s.text[s.pos + 1];
    if (next === "$") {
      out += "$";
      s.pos += 2;
    } else if (next === "{") {
      s.pos += 2;
      out += expandBraced(s, lookup, unset, evaluate);
    } else if (next !== undefined && NAME_START.test(next)) {
      s.pos++;
      const name = readName(s);
      out += evaluate ? valueOf(name, lookup, unset) : "";
    } else {
      out += "$";
      s.pos++;
    }
  }
  if (inWord) throw new InvalidInputError(`unterminated "\${" in ${JSON.stringify(s.text)}`, { hint: "close it with `}`, or write `$$` for a literal `$`" });
  return out;
}

function readName(s: Scanner): string {
  const start = s.pos;
  while (s.pos < s.text.length && NAME_CHAR.test(s.text[s.pos]!)) s.pos++;
  return s.text.slice(start, s.pos);
}

function valueOf(name: string, lookup: Lookup, unset: string[]): string {
  const v = lookup(name);
  if (v !== undefined) return v;
  if (!unset.includes(name)) unset.push(name);
  return "";
}

const OPERATORS = [":-", ":?", ":+", "-", "?", "+"] as const;

function expandBraced(s: Scanner, lookup: Lookup, unset: string[], evaluate: boolean): string {
  const start = s.pos - 2;
  const first = s.text[s.pos];
  if (first === undefined || !NAME_START.test(first)) throw invalidTemplate(s, start);
  const name = readName(s);
  if (s.text[s.pos] === "}") {
    s.pos++;
    return evaluate ? valueOf(name, lookup, unset) : "";
  }
  const op = OPERATORS.find((o) => s.text.startsWith(o, s.pos));
  if (!op) throw invalidTemplate(s, start);
  s.pos += op.length;
  const value = evaluate ? lookup(name) : undefined;
  const isSet = value !== undefined;
  const isNonEmpty = isSet && value !== "";
  const present = op.startsWith(":") ? isNonEmpty : isSet;
  let useWord: boolean;
  switch (op) {
    case ":-":
    case "-":
      useWord = !present;
      break;
    case ":+":
    case "+":
      useWord = present;
      break;
    default:
      useWord = !present;
  }
  const word = expand(s, lookup, unset, evaluate && useWord, true);
  s.pos++; // the closing brace
  if (!evaluate) return "";
  if (op === ":?" || op === "?") {
    if (present) return value!;
    const why = word === "" ? "" : `: ${word}`;
    throw new InvalidInputError(`required variable "${name}" is ${isSet ? "empty" : "not set"}${why}`, {
      hint: `set ${name} in the environment or in the .env file`,
    });
  }
  if (op === ":+" || op === "+") return useWord ? word : "";
  return useWord ? word : value!;
}

function invalidTemplate(s: Scanner, start: number): InvalidInputError {
  const end = s.text.indexOf("}", start);
  const bad = s.text.slice(start, end < 0 ? undefined : end + 1);
  return new InvalidInputError(`invalid interpolation format "${bad}"`, {
    hint: "use ${NAME}, ${NAME:-default}, ${NAME:?message} or ${NAME:+alternative}; write $$ for a literal $",
  });
}

export interface InterpolationResult {
  doc: Record<string, unknown>;
  /** Variables that were not set, each with the place of its first use. */
  unset: Array<{ name: string; where: string }>;
}

/**
 * Interpolates every string value of a parsed file. Values that contained a
 * variable and sit where the specification wants a number or a boolean are
 * converted (`replicas: ${N}` → 3), as compose does.
 *
 * The result reaches no collection twice, and none of `file.doc` that an
 * alias shares: those are copied. `aliased` names them (YamlFile.aliased);
 * without it every collection is copied. A collection outside it is kept as
 * it is unless a value in it changed: most of a file has no `$` (on a
 * 300-service file, a copy of the whole document was ~0.7 MB that lived to
 * the end of the run, and a tenth of the loading time).
 */
export function interpolateFile(file: ParsedFile, lookup: Lookup, aliased?: ReadonlySet<object>): InterpolationResult {
  const unset: Array<{ name: string; where: string }> = [];
  const seen = new Set<string>();
  const path: PathSegment[] = []; // one stack, pushed and popped; copied where kept
  const walk = (value: unknown): unknown => {
    if (typeof value === "string") {
      if (!value.includes("$")) return value;
      let result: Substitution;
      try {
        result = substituteVariables(value, lookup);
      } catch (e) {
        const err = e as InvalidInputError;
        throw new InvalidInputError(formatProblem({ path: [...path], location: file.locate(path), message: err.message }), { hint: err.hint, cause: e });
      }
      for (const name of result.unset) {
        if (seen.has(name)) continue;
        seen.add(name);
        const loc = file.locate(path);
        unset.push({ name, where: loc ? `${loc.file}:${loc.line}:${loc.col}` : file.path });
      }
      return castInterpolated(path, result.value);
    }
    if (value === null || typeof value !== "object") return value;
    // A copy from the start, or only from the first value that changed.
    const copy = aliased === undefined || aliased.has(value);
    if (Array.isArray(value)) {
      let out: unknown[] | undefined = copy ? [] : undefined;
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        const item = walk(value[i]);
        path.pop();
        if (out !== undefined) out.push(item);
        else if (item !== value[i]) {
          out = value.slice(0, i);
          out.push(item);
        }
      }
      return out ?? value;
    }
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    let out: Record<string, unknown> | undefined = copy ? {} : undefined;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      path.push(k);
      const member = walk(obj[k]);
      path.pop();
      if (out !== undefined) out[k] = member;
      else if (member !== obj[k]) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j]!] = obj[keys[j]!];
        out[k] = member;
      }
    }
    return out ?? obj;
  };
  return { doc: walk(file.doc) as Record<string, unknown>, unset };
}

type Cast = "int" | "float" | "bool";

// Where the compose specification expects a number or a boolean; `*` matches
// any one key or index. Only interpolated strings are converted.
const CASTS: Array<[string[], Cast]> = [
  [["services", "*", "cpu_count"], "int"],
  [["services", "*", "cpu_percent"], "float"],
  [["services", "*", "cpu_period"], "int"],
  [["services", "*", "cpu_quota"], "int"],
  [["services", "*", "cpu_rt_period"], "int"],
  [["services", "*", "cpu_rt_runtime"], "int"],
  [["services", "*", "cpus"], "float"],
  [["services", "*", "cpu_shares"], "int"],
  [["services", "*", "init"], "bool"],
  [["services", "*", "deploy", "replicas"], "int"],
  [["services", "*", "deploy", "restart_policy", "max_attempts"], "int"],
  [["services", "*", "deploy", "update_config", "parallelism"], "int"],
  [["services", "*", "deploy", "rollback_config", "parallelism"], "int"],
  [["services", "*", "healthcheck", "retries"], "int"],
  [["services", "*", "healthcheck", "disable"], "bool"],
  [["services", "*", "oom_kill_disable"], "bool"],
  [["services", "*", "oom_score_adj"], "int"],
  [["services", "*", "pids_limit"], "int"],
  [["services", "*", "ports", "*", "target"], "int"],
  [["services", "*", "privileged"], "bool"],
  [["services", "*", "read_only"], "bool"],
  [["services", "*", "scale"], "int"],
  [["services", "*", "stdin_open"], "bool"],
  [["services", "*", "tty"], "bool"],
  [["services", "*", "ulimits", "*"], "int"],
  [["services", "*", "ulimits", "*", "soft"], "int"],
  [["services", "*", "ulimits", "*", "hard"], "int"],
  [["services", "*", "volumes", "*", "read_only"], "bool"],
  [["services", "*", "volumes", "*", "volume", "nocopy"], "bool"],
  [["networks", "*", "external"], "bool"],
  [["networks", "*", "internal"], "bool"],
  [["networks", "*", "attachable"], "bool"],
  [["networks", "*", "enable_ipv6"], "bool"],
  [["volumes", "*", "external"], "bool"],
  [["secrets", "*", "external"], "bool"],
  [["configs", "*", "external"], "bool"],
];

const TRUE = new Set(["true", "yes", "y", "on"]);
const FALSE = new Set(["false", "no", "n", "off"]);

/** CASTS by their last segment ("*" for any): only those can match a path that ends in that key. */
const CASTS_BY_LAST = new Map<string, Array<[string[], Cast]>>();
for (const rule of CASTS) {
  const last = rule[0][rule[0].length - 1]!;
  CASTS_BY_LAST.set(last, [...(CASTS_BY_LAST.get(last) ?? []), rule]);
}

function castRuleFor(path: PathSegment[]): [string[], Cast] | undefined {
  const candidates = [...(CASTS_BY_LAST.get(String(path[path.length - 1])) ?? []), ...(CASTS_BY_LAST.get("*") ?? [])];
  // The first matching rule in CASTS order, as one scan of CASTS would find it.
  let found: [string[], Cast] | undefined;
  for (const rule of candidates) {
    const [pattern] = rule;
    if (pattern.length !== path.length || !pattern.every((p, i) => p === "*" || p === path[i])) continue;
    if (found === undefined || CASTS.indexOf(rule) < CASTS.indexOf(found)) found = rule;
  }
  return found;
}

function castInterpolated(path: PathSegment[], value: string): unknown {
  const rule = castRuleFor(path);
  if (!rule) return value;
  const text = value.trim();
  switch (rule[1]) {
    case "int":
      return /^[-+]?\d+$/.test(text) ? Number(text) : value;
    case "float":
      return text !== "" && Number.isFinite(Number(text)) ? Number(text) : value;
    case "bool": {
      const lower = text.toLowerCase();
      if (TRUE.has(lower)) return true;
      if (FALSE.has(lower)) return false;
      return value;
    }
  }
}
