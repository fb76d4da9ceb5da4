// Merging stack documents by the compose rules: when several files are given
// (`-f a.yaml -f b.yaml`, or the `*.override.*` twin), and for `extends`.
//
// - Mappings merge key by key, recursively; a later scalar replaces.
// - Lists with an identity merge by it: ports (host ip + published + target +
//   protocol), volumes and tmpfs (target), secrets and configs (target, else
//   source), env_file (path). A later entry with the same identity replaces
//   the earlier one in place; new ones are appended.
// - Key/value lists (environment, labels, annotations, sysctls, extra_hosts,
//   build args …) merge as maps, whatever form each file used.
// - depends_on and service networks merge as maps (a list names keys).
// - command, entrypoint and healthcheck.test are replaced, never merged.
// - Other lists (dns, cap_add, expose …) are the union, without duplicates.
// - `!reset` (a path in `resets`) deletes what came before; `!override`
//   replaces it instead of merging.
import type { PathSegment } from "./source.js";

export type Doc = Record<string, unknown>;

export interface MergeTags {
  resets: PathSegment[][];
  overrides: PathSegment[][];
}

/** Merges `over` onto `base` (neither is modified). */
export function mergeDocuments(base: Doc, over: Doc, tags: MergeTags = { resets: [], overrides: [] }): Doc {
  let start = base;
  if (tags.resets.length > 0 || tags.overrides.length > 0) {
    start = copyTree(base) as Doc;
    for (const path of [...tags.resets, ...tags.overrides]) deleteAt(start, path);
  }
  return mergeAt([], start, over) as Doc;
}

/** Merges a service definition onto the one it extends (`extends`). */
export function mergeServiceDefinitions(name: string, base: Doc, over: Doc, tags: MergeTags = { resets: [], overrides: [] }): Doc {
  const wrap = (d: Doc): Doc => ({ services: { [name]: d } });
  const merged = mergeDocuments(wrap(base), wrap(over), tags);
  return (merged.services as Doc)[name] as Doc;
}

export function isMapping(v: unknown): v is Doc {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A deep copy (aliases in YAML share objects; later stages may change copies). */
export function copyTree(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(copyTree);
  if (isMapping(v)) {
    const out: Doc = {};
    for (const [k, x] of Object.entries(v)) out[k] = copyTree(x);
    return out;
  }
  return v;
}

/** Deletes the value at `path` (a no-op when it is not there). */
function deleteAt(doc: unknown, path: PathSegment[]): void {
  let node: unknown = doc;
  for (const seg of path.slice(0, -1)) {
    if (Array.isArray(node) && typeof seg === "number") node = node[seg];
    else if (isMapping(node)) node = node[String(seg)];
    else return;
  }
  const last = path[path.length - 1];
  if (last === undefined) return;
  if (Array.isArray(node) && typeof last === "number") node.splice(last, 1);
  else if (isMapping(node)) delete node[String(last)];
}

type Rule = (path: PathSegment[], base: unknown, over: unknown) => unknown;

function mergeAt(path: PathSegment[], base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (base === undefined) return over;
  const rule = ruleFor(path);
  if (rule) return rule(path, base, over);
  return mergeGeneric(path, base, over);
}

function mergeGeneric(path: PathSegment[], base: unknown, over: unknown): unknown {
  if (isMapping(base) && isMapping(over)) {
    const out: Doc = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = Object.hasOwn(base, k) ? mergeAt([...path, k], base[k], v) : v;
    return out;
  }
  // `key:` with no value in a later file keeps what the earlier one defined.
  if (over === null && isMapping(base)) return base;
  if (Array.isArray(base) && Array.isArray(over)) return mergeKeyed(base, over, (item) => canonicalJson(item));
  return over;
}

const replace: Rule = (_path, _base, over) => over;

const asMap =
  (separator: RegExp): Rule =>
  (path, base, over) =>
    mergeGeneric(path, toMap(base, separator), toMap(over, separator));

const asKeys: Rule = (path, base, over) => mergeGeneric(path, keysToMap(base), keysToMap(over));

const union: Rule = (_path, base, over) => mergeKeyed(toList(base), toList(over), (item) => canonicalJson(item));

const keyedBy =
  (keyOf: (item: unknown) => string | undefined): Rule =>
  (_path, base, over) =>
    mergeKeyed(toList(base), toList(over), keyOf);

const mergeUlimit: Rule = (path, base, over) => (isMapping(base) && isMapping(over) ? mergeGeneric(path, base, over) : over);

const mergeLogging: Rule = (path, base, over) => {
  if (isMapping(base) && isMapping(over) && base.driver !== undefined && over.driver !== undefined && base.driver !== over.driver) return over;
  return mergeGeneric(path, base, over);
};

const mergeBuild: Rule = (path, base, over) => {
  const asObject = (b: unknown): unknown => (typeof b === "string" ? { context: b } : b);
  return mergeGeneric(path, asObject(base), asObject(over));
};

// Service-relative paths ("*" = any key) → rule.
const SERVICE_RULES: Array<[string[], Rule]> = [
  [["command"], replace],
  [["entrypoint"], replace],
  [["healthcheck", "test"], replace],
  [["environment"], asMap(/=/)],
  [["labels"], asMap(/=/)],
  [["annotations"], asMap(/=/)],
  [["sysctls"], asMap(/=/)],
  [["extra_hosts"], asMap(/[=:]/)],
  [["build", "args"], asMap(/=/)],
  [["build", "labels"], asMap(/=/)],
  [["build", "extra_hosts"], asMap(/[=:]/)],
  [["build", "additional_contexts"], asMap(/=/)],
  [["deploy", "labels"], asMap(/=/)],
  [["depends_on"], asKeys],
  [["networks"], asKeys],
  [["ulimits", "*"], mergeUlimit],
  [["logging"], mergeLogging],
  [["build"], mergeBuild],
  [["ports"], keyedBy(portIdentity)],
  [["volumes"], keyedBy(volumeTarget)],
  [["tmpfs"], keyedBy((t) => (typeof t === "string" ? t.split(":")[0] : canonicalJson(t)))],
  [["secrets"], keyedBy(fileReferenceIdentity)],
  [["configs"], keyedBy(fileReferenceIdentity)],
  [["env_file"], keyedBy((e) => (typeof e === "string" ? e : isMapping(e) ? String(e.path) : canonicalJson(e)))],
  ...["dns", "dns_search", "dns_opt", "cap_add", "cap_drop", "security_opt", "expose", "external_links", "links", "group_add", "profiles", "device_cgroup_rules", "volumes_from", "devices", "label_file"].map(
    (k): [string[], Rule] => [[k], union],
  ),
  ...["tags", "cache_from", "cache_to", "platforms", "ssh"].map((k): [string[], Rule] => [["build", k], union]),
];

function ruleFor(path: PathSegment[]): Rule | undefined {
  if (path[0] !== "services" || path.length < 3) return undefined;
  const rel = path.slice(2);
  for (const [pattern, rule] of SERVICE_RULES) {
    if (pattern.length === rel.length && pattern.every((p, i) => p === "*" || p === rel[i])) return rule;
  }
  return undefined;
}

function mergeKeyed(base: unknown[], over: unknown[], keyOf: (item: unknown) => string | undefined): unknown[] {
  const out = [...base];
  const index = new Map<string, number>();
  out.forEach((item, i) => {
    const k = keyOf(item);
    if (k !== undefined && !index.has(k)) index.set(k, i);
  });
  for (const item of over) {
    const k = keyOf(item);
    const at = k === undefined ? undefined : index.get(k);
    if (at !== undefined) {
      out[at] = item;
    } else {
      if (k !== undefined) index.set(k, out.length);
      out.push(item);
    }
  }
  return out;
}

function toList(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  return v === null || v === undefined ? [] : [v];
}

/** `["A=1", "B"]` → `{A: "1", B: null}`; a mapping is kept. */
function toMap(v: unknown, separator: RegExp): unknown {
  if (!Array.isArray(v)) return v;
  const out: Doc = {};
  for (const item of v) {
    const text = String(item);
    const m = separator.exec(text);
    if (m) out[text.slice(0, m.index)] = text.slice(m.index + m[0].length);
    else out[text] = null;
  }
  return out;
}

/** `["db", "cache"]` → `{db: null, cache: null}`; a mapping is kept. */
function keysToMap(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const out: Doc = {};
  for (const item of v) out[String(item)] = null;
  return out;
}

/** JSON with mapping keys sorted: equal values give equal strings. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    isMapping(x)
      ? Object.fromEntries(
          Object.entries(x)
            .filter(([, y]) => y !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : x,
  );
}

/** ip|published|target|protocol of a port in short or long form. */
export function portIdentity(p: unknown): string | undefined {
  if (typeof p === "number") return `|||${p}|tcp`;
  if (isMapping(p)) return `${p.host_ip ?? ""}|${p.published ?? ""}|${p.target ?? ""}|${p.protocol ?? "tcp"}`;
  if (typeof p !== "string") return undefined;
  let text = p;
  let protocol = "tcp";
  const slash = text.lastIndexOf("/");
  if (slash >= 0) {
    protocol = text.slice(slash + 1);
    text = text.slice(0, slash);
  }
  let ip = "";
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    ip = text.slice(1, close);
    text = text.slice(close + 2);
  }
  const parts = text.split(":");
  const target = parts.pop() ?? "";
  const published = parts.pop() ?? "";
  if (parts.length > 0) ip = parts.join(":");
  return `${ip}|${published}|${target}|${protocol}`;
}

/** The container path of a volume in short (`src:target:mode`) or long form. */
export function volumeTarget(v: unknown): string | undefined {
  if (isMapping(v)) return v.target === undefined ? undefined : String(v.target);
  if (typeof v !== "string") return undefined;
  const parts = v.split(":");
  return parts.length === 1 ? parts[0] : parts[1];
}

function fileReferenceIdentity(r: unknown): string | undefined {
  if (typeof r === "string") return r;
  if (isMapping(r)) return String(r.target ?? r.source);
  return undefined;
}
