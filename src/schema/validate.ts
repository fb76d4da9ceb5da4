// Validation of one stack file (after interpolation) against
// schemas/stack.schema.json, with the validator precompiled at build time
// (scripts/build-schema.mjs): no schema compilation at start-up.
//
// ajv reports every failed branch of a oneOf; a user wants one message per
// bad value. Branches whose *type* did not match the value are dropped; what
// remains (a pattern, an enum, a deeper key) is the real complaint. When no
// branch took the value's type, one "is not a X or a Y" message is left.
import schemaModule from "./generated/stack-schema.js";
import validateStack from "./generated/validate-stack.js";
import { didYouMean } from "./did-you-mean.js";
import { shortVolumeProblem } from "./normalize/volumes.js";
import type { ParsedFile, PathSegment, Problem } from "./source.js";

interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** What a pattern of the schema means, for messages: `"80x" is not <noun> (expected …)`. Every pattern of the schema has an entry (a unit test checks). */
export const patternMessages: Record<string, { noun: string; expected: string }> = {
  "^((((\\d{1,3}(\\.\\d{1,3}){3})|\\[[0-9a-fA-F:.%a-zA-Z]+\\]|[0-9a-fA-F]*:[0-9a-fA-F:]*[0-9a-fA-F]):)?(\\d+(-\\d+)?)?:)?\\d+(-\\d+)?(/(tcp|udp|sctp|TCP|UDP|SCTP))?$": {
    noun: "a port mapping",
    expected: "expected [HOST:]CONTAINER[/PROTOCOL]",
  },
  "^((\\d+(\\.\\d+)?|\\.\\d+)(ns|us|µs|ms|s|m|h|d)?)+$": { noun: "a duration", expected: "expected e.g. 30s, 1m30s, 1.5s, 100ms, 1h" },
  "^(always|never|missing|if_not_present|build|daily|weekly|every_(\\d+[wdhms])+|refresh)$": {
    noun: "a pull policy",
    expected: "expected always, never, missing, build, daily, weekly or every_<duration>",
  },
  "^(container:)?[^:]+(:(ro|rw))?$": { noun: "a volumes_from entry", expected: "expected SERVICE[:ro|rw] or container:NAME[:ro|rw]" },
  "^(no|always|unless-stopped|on-failure(:\\d+)?)$": { noun: "a restart policy", expected: "expected no, always, on-failure[:MAX_RETRIES] or unless-stopped" },
  "^(tcp|udp|sctp|TCP|UDP|SCTP)$": { noun: "a protocol", expected: "expected tcp, udp or sctp" },
  "^(true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N)$": { noun: "a boolean", expected: "expected true or false" },
  "^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)$": { noun: "a number", expected: "expected e.g. 0.5 or 2" },
  "^[+-]?\\d+$": { noun: "an integer", expected: "expected a whole number" },
  "^(0o?)?[0-7]+$": { noun: "a file mode", expected: "expected an octal mode such as 0440" },
  "^[^:]+(:[^:]+(:[rwm]+)?)?$": { noun: "a device mapping", expected: "expected HOST_PATH[:CONTAINER_PATH[:rwm]]" },
  "^[^:]+(:[^:]+)?$": { noun: "a link", expected: "expected SERVICE[:ALIAS]" },
  "^[^\\s:=]+(:|=).+$": { noun: "an extra host", expected: "expected HOST:IP or HOST=IP" },
  "^[a-z0-9][a-z0-9_-]*$": { noun: "a project name", expected: "use lowercase letters, digits, '-' and '_', starting with a letter or digit" },
  "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$": { noun: "a valid name", expected: "use letters, digits, '.', '_' and '-', starting with a letter or digit" },
  "^\\d+(-\\d+)?$": { noun: "a port or port range", expected: "expected e.g. 8080 or 8000-8010" },
  "^\\d+(-\\d+)?(/(tcp|udp|sctp))?$": { noun: "an exposed port", expected: "expected PORT[-PORT][/PROTOCOL]" },
  "^\\s*(-1|(\\d+(\\.\\d+)?|\\.\\d+)\\s*([kKmMgGtTpP]?[iI]?[bB]?))\\s*$": { noun: "a byte size", expected: "expected e.g. 512m, 1g, 100k, 1.5gb, or -1 for unlimited" },
  "^\\s*(\\d+(\\.\\d+)?|\\.\\d+)\\s*([kKmMgGtTpP]?[iI]?[bB]?)\\s*$": { noun: "a byte size", expected: "expected e.g. 512m, 1g, 100k, 1.5gb" },
};

/** Every problem of one file's document; empty when it is valid. Sorted by location, then path. */
export function validateFile(file: ParsedFile): Problem[] {
  const problems: Problem[] = [];
  if (!validateStack(file.doc)) {
    problems.push(...problemsFromErrors((validateStack.errors ?? []) as AjvError[], file.doc));
  }
  problems.push(...checkPortNumbers(file.doc), ...checkShortVolumes(file.doc));
  for (const p of problems) p.location ??= file.locate(p.path);
  return sortProblems(problems);
}

function sortProblems(problems: Problem[]): Problem[] {
  const key = (p: Problem) => [p.location?.line ?? Number.MAX_SAFE_INTEGER, p.location?.col ?? 0] as const;
  return problems.sort((a, b) => {
    const [la, ca] = key(a);
    const [lb, cb] = key(b);
    return la - lb || ca - cb || pathKey(a.path).localeCompare(pathKey(b.path));
  });
}

function pathKey(path: PathSegment[]): string {
  return path.map(String).join("\u0000");
}

/** Turns ajv's error list into one problem per bad value. */
export function problemsFromErrors(errors: AjvError[], doc: unknown): Problem[] {
  const byPath = new Map<string, AjvError[]>();
  for (const e of errors) {
    const list = byPath.get(e.instancePath) ?? [];
    list.push(e);
    byPath.set(e.instancePath, list);
  }
  const alternatives = new Set(errors.filter((e) => e.keyword === "oneOf" || e.keyword === "anyOf").map((e) => e.instancePath));
  const problems: Problem[] = [];
  for (const [instancePath, list] of byPath) {
    const path = toPath(instancePath, doc);
    const value = valueAt(doc, path);
    if (alternatives.has(instancePath)) {
      const kept = list.filter((e) => e.keyword !== "type" && e.keyword !== "oneOf" && e.keyword !== "anyOf");
      const deeper = [...byPath.keys()].some((p) => p.startsWith(instancePath + "/"));
      if (kept.length > 0) {
        problems.push(...messagesFor(kept, path, value));
      } else if (!deeper) {
        const types = list.filter((e) => e.keyword === "type").map((e) => String(e.params.type));
        problems.push({ path, message: `${describe(value)} is not ${typeList(types)}` });
      }
      continue;
    }
    problems.push(...messagesFor(list, path, value));
  }
  return dedupe(problems);
}

function messagesFor(list: AjvError[], path: PathSegment[], value: unknown): Problem[] {
  const out: Problem[] = [];
  // One message for a value: a pattern (it has the clearest words) wins over the rest.
  const pattern = list.find((e) => e.keyword === "pattern");
  if (pattern) {
    const known = patternMessages[String(pattern.params.pattern)];
    if (typeof value === "string" && value.includes("$")) return out; // not interpolated (--no-interpolate): judged after interpolation
    out.push({
      path,
      message: `${describe(value)} is not ${known?.noun ?? "valid"}`,
      hint: known?.expected ?? `expected a value matching ${String(pattern.params.pattern)}`,
    });
    return out;
  }
  for (const e of list) {
    switch (e.keyword) {
      case "additionalProperties": {
        const key = String(e.params.additionalProperty);
        const allowed = allowedKeysAt(path);
        if (allowed.length === 0) {
          out.push({ path: [...path, key], message: `"${key}" is not a valid name`, hint: "use letters, digits, '.', '_' and '-'" });
        } else {
          out.push({ path: [...path, key], message: `unknown key "${key}"`, hint: unknownKeyHint(path, key, allowed) });
        }
        break;
      }
      case "required":
        out.push({ path, message: `missing required key "${String(e.params.missingProperty)}"` });
        break;
      case "enum": {
        const allowed = (e.params.allowedValues as unknown[]).map(String);
        out.push({ path, message: `${describe(value)} is not one of ${allowed.join(", ")}`, hint: typeof value === "string" ? didYouMean(value, allowed) : undefined });
        break;
      }
      case "type":
        if (typeof value === "string" && value.includes("$")) break;
        out.push({ path, message: `${describe(value)} is not ${typeList([String(e.params.type)])}` });
        break;
      case "minimum":
        out.push({ path, message: `${describe(value)} is below the minimum ${String(e.params.limit)}` });
        break;
      case "oneOf":
      case "anyOf":
        break;
      default:
        out.push({ path, message: `${describe(value)} ${e.message ?? "is not valid"}` });
    }
  }
  return out;
}

/** Service keys people put at the wrong level, and where they belong. */
const misplacedServiceKeys: Record<string, string> = {
  replicas: "deploy.replicas, or use scale",
  resources: "deploy.resources",
  restart_policy: "deploy.restart_policy, or use restart",
  placement: "deploy.placement",
  memory: "mem_limit or deploy.resources.limits.memory",
  watch: "develop.watch",
  interval: "healthcheck.interval",
  test: "healthcheck.test",
  context: "build.context",
  dockerfile: "build.dockerfile",
  args: "build.args",
  aliases: "networks.<network>.aliases",
};

function unknownKeyHint(path: PathSegment[], key: string, allowed: string[]): string {
  const isServiceLevel = path.length === 2 && path[0] === "services";
  const moved = isServiceLevel ? misplacedServiceKeys[key] : undefined;
  return (moved ? `it belongs under ${moved}` : undefined) ?? didYouMean(key, allowed) ?? allowedHint(allowed);
}

function allowedHint(allowed: string[]): string {
  return allowed.length <= 12 ? `allowed here: ${allowed.join(", ")}` : "not a key stack knows here; extension keys start with x-";
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${pathKey(p.path)}\u0001${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** JSON pointer → path segments; indexes of lists become numbers. */
function toPath(pointer: string, doc: unknown): PathSegment[] {
  if (pointer === "") return [];
  const out: PathSegment[] = [];
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur)) {
      out.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      out.push(seg);
      cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

function valueAt(doc: unknown, path: PathSegment[]): unknown {
  let cur = doc;
  for (const seg of path) cur = cur !== null && typeof cur === "object" ? (cur as Record<string | number, unknown>)[seg] : undefined;
  return cur;
}

/** `"80x:80"`, `12`, `a mapping`, `a list`, `an empty value`. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  return String(value);
}

const typeNames: Record<string, string> = {
  string: "a string",
  number: "a number",
  integer: "an integer",
  boolean: "a boolean",
  object: "a mapping",
  array: "a list",
  null: "empty",
};

function typeList(types: string[]): string {
  const names = [...new Set(types.flatMap((t) => t.split(",")))].map((t) => typeNames[t] ?? t);
  return names.length <= 1 ? (names[0] ?? "valid") : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

// Keys allowed at a path, read from the schema itself.
type Schema = Record<string, unknown>;

function resolve(s: Schema, root: Schema): Schema[] {
  if (typeof s.$ref === "string") {
    const target = (s.$ref as string).replace(/^#\//, "").split("/").reduce<unknown>((o, k) => (o as Schema)[k], root) as Schema;
    return resolve(target, root);
  }
  const branches = [...((s.oneOf as Schema[]) ?? []), ...((s.anyOf as Schema[]) ?? [])];
  return branches.length > 0 ? branches.flatMap((b) => resolve(b, root)) : [s];
}

export function allowedKeysAt(path: PathSegment[]): string[] {
  const root = schemaModule as Schema;
  let current = resolve(root, root);
  for (const seg of path) {
    const next: Schema[] = [];
    for (const s of current) {
      if (typeof seg === "number") {
        if (s.items && typeof s.items === "object") next.push(s.items as Schema);
        continue;
      }
      const props = (s.properties ?? {}) as Record<string, Schema>;
      if (props[seg]) next.push(props[seg]);
      for (const [pattern, sub] of Object.entries((s.patternProperties ?? {}) as Record<string, Schema>)) {
        if (pattern !== "^x-" && new RegExp(pattern).test(seg)) next.push(sub);
      }
    }
    current = next.flatMap((s) => resolve(s, root));
  }
  return [...new Set(current.flatMap((s) => Object.keys((s.properties ?? {}) as object)))].sort();
}

/** Short-syntax mounts (`./src:/app:ro`): the parts, the container path, the options. */
function checkShortVolumes(doc: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  const services = doc.services;
  if (services === null || typeof services !== "object") return problems;
  // (Any order: validateFile sorts the problems.)
  for (const name of Object.keys(services)) {
    const volumes = ((services as Record<string, unknown>)[name] as Record<string, unknown> | null)?.volumes;
    if (!Array.isArray(volumes)) continue;
    for (let i = 0; i < volumes.length; i++) {
      const v: unknown = volumes[i];
      if (typeof v !== "string" || v.includes("$")) continue;
      const problem = shortVolumeProblem(v);
      if (problem) problems.push({ path: ["services", name, "volumes", i], ...problem });
    }
  }
  return problems;
}

/** Port numbers and ranges the pattern cannot judge: 1-65535, ranges ascending and of equal length. */
function checkPortNumbers(doc: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  const services = doc.services;
  if (services === null || typeof services !== "object") return problems;
  for (const name of Object.keys(services)) {
    const ports = ((services as Record<string, unknown>)[name] as Record<string, unknown> | null)?.ports;
    if (!Array.isArray(ports)) continue;
    for (let i = 0; i < ports.length; i++) {
      const message = portNumberProblem(ports[i]);
      if (message) problems.push({ path: ["services", name, "ports", i], ...message });
    }
  }
  return problems;
}

function portNumberProblem(p: unknown): { message: string; hint?: string } | undefined {
  let container: string | undefined;
  let host: string | undefined;
  if (typeof p === "number") container = String(p);
  else if (typeof p === "string") {
    const m = /(?:(?:^|:)(\d+(?:-\d+)?))?:(\d+(?:-\d+)?)(?:\/\w+)?$|^(\d+(?:-\d+)?)(?:\/\w+)?$/.exec(p);
    if (!m) return undefined;
    host = m[1];
    container = m[2] ?? m[3];
  } else if (p !== null && typeof p === "object") {
    const o = p as Record<string, unknown>;
    if (typeof o.target === "number" || typeof o.target === "string") container = String(o.target);
    if (typeof o.published === "number" || typeof o.published === "string") host = String(o.published);
  }
  const ranges: Array<[number, number]> = [];
  for (const part of [container, host]) {
    if (part === undefined || part === "") continue;
    if (!/^\d+(-\d+)?$/.test(part)) return undefined;
    const [a, b] = part.split("-").map(Number) as [number, number | undefined];
    const end = b ?? a;
    if (a < (part === container ? 1 : 0) || end > 65535) return { message: `${describe(p)} has a port out of range (${part})`, hint: "ports are 1-65535" };
    if (end < a) return { message: `${describe(p)} has a descending port range (${part})`, hint: "write LOW-HIGH" };
    ranges.push([a, end]);
  }
  if (ranges.length === 2) {
    const [c, h] = ranges as [[number, number], [number, number]];
    const cl = c[1] - c[0];
    const hl = h[1] - h[0];
    if (cl !== hl && !(cl === 0)) return { message: `${describe(p)} maps ranges of different lengths`, hint: "the host and container ranges must have the same number of ports" };
  }
  return undefined;
}
