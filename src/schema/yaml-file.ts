// Stage 1 of loading: YAML text → a plain document that remembers where each
// value was written. Anchors, aliases and merge keys (`<<`) are expanded here;
// `!reset` and `!override` tags are taken off the tree and handed to the merge
// stage as paths; duplicate keys and excessive aliasing are errors.
//
// Values are read by yaml-subset.ts when the file is plain block YAML (most
// are; several times faster than js-yaml on a cold start), else with js-yaml;
// positions and syntax messages come from `yaml`'s document tree, built only
// when a message needs one.
import jsYaml from "js-yaml";
import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import type { Document, Node } from "yaml";
import { InvalidInputError } from "../errors.js";
import { formatProblem, type Location, type ParsedFile, type PathSegment } from "./source.js";
import { parseYamlSubset, type PlainResolver } from "./yaml-subset.js";

// `yaml` is loaded on first use: most runs never need it (saves ~50 ms of start-up).
let yamlModule: typeof Yaml | undefined;
function yamlLib(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)("yaml") as typeof Yaml;
  return yamlModule;
}

/**
 * The most alias nodes a stack file may contain. Real stack files use tens;
 * a billion-laughs file needs millions.
 */
export const MAX_ALIASES = 10_000;

/**
 * A parsed stack file plus the tags the merge stage applies. Values reached
 * through aliases may be one shared object: copy before changing anything.
 */
export interface YamlFile extends ParsedFile {
  /** Paths whose value was tagged `!reset`: removed from `doc`; the merge deletes them from what came before. */
  resets: PathSegment[][];
  /** Paths whose value was tagged `!override`: kept in `doc`; the merge replaces instead of merging. */
  overrides: PathSegment[][];
  /**
   * Every collection of `doc` that it may reach more than once (an anchored
   * value and everything in it: aliases and merge keys share them), when
   * known; undefined when any may be (js-yaml read the file). A stage that
   * keeps the others as they are (interpolateFile) copies only these.
   */
  aliased?: ReadonlySet<object>;
}

/** Parses one stack file. `file` is the name used in messages ("-" for stdin). */
export function parseYamlFile(text: string, file: string): YamlFile {
  refuseAliasFlood(text, file);
  // Most files are plain block YAML, read by the fast subset reader; the
  // rest (and every file with an error) goes to js-yaml.
  const anchored = new Set<object>();
  let raw: unknown = parseYamlSubset(text, resolvePlainScalar, anchored);
  let size: number;
  const viaSubset = raw !== undefined;
  if (raw !== undefined) {
    // Only anchored collections can be reached twice; without any, every
    // value was written out in the text and the size is bounded by it.
    size = anchored.size === 0 && text.length <= MAX_NODES ? 0 : expandedSize(raw, new Map(), anchored);
  } else {
    try {
      raw = jsYaml.load(text, { schema: SCHEMA, filename: file });
    } catch (e) {
      throw syntaxError(text, file, e);
    }
    size = expandedSize(raw, new Map(), undefined);
  }
  const resets: PathSegment[][] = [];
  const overrides: PathSegment[][] = [];
  if (size > MAX_NODES) throw aliasFloodError(file, `its aliases expand to more than ${MAX_NODES} values`);
  // Without tags there is nothing to take off. (Aliased values may then be
  // shared objects: the interpolation walk and copyTree make the copies.)
  const tagged = text.includes("!reset") || text.includes("!override");
  const value = raw === null || raw === undefined ? {} : tagged ? takeValue(raw, [], resets, overrides) : raw;
  // Positions come from `yaml`'s document tree, built on the first request:
  // most loads never need one, and `yaml` parses several times slower.
  let located: { doc: Document; where: (offset: number) => Location } | undefined;
  const tree = () => {
    if (!located) {
      const { LineCounter, parseDocument } = yamlLib();
      const lineCounter = new LineCounter();
      const doc = parseDocument(text, { lineCounter, merge: false, uniqueKeys: false, prettyErrors: false });
      located = { doc, where: (offset) => ({ file, ...lineCounter.linePos(offset) }) };
    }
    return located;
  };
  if (typeof value !== "object" || Array.isArray(value)) {
    const { doc, where } = tree();
    const loc = doc.contents?.range ? where(doc.contents.range[0]) : { file, line: 1, col: 1 };
    throw new InvalidInputError(formatProblem({ path: [], location: loc, message: `the stack file must be a mapping of top-level keys, not ${Array.isArray(value) ? "a list" : JSON.stringify(value)}` }), {
      hint: "start the file with `services:`",
    });
  }
  return {
    path: file,
    doc: value as Record<string, unknown>,
    resets,
    overrides,
    // The subset reader shares only what an anchor holds; takeValue copied everything.
    aliased: tagged ? new Set() : viaSubset ? withEverythingIn(anchored) : undefined,
    locate(path: PathSegment[]) {
      const { doc, where } = tree();
      const node = findNode(doc, path);
      return node?.range ? where(node.range[0]) : undefined;
    },
  };
}

/** `!reset` / `!override` as js-yaml sees them, on any kind of node. */
class TaggedValue {
  constructor(
    readonly tag: "!reset" | "!override",
    readonly value: unknown,
  ) {}
}

const TAG_TYPES = (["!reset", "!override"] as const).flatMap((tag) =>
  (["scalar", "sequence", "mapping"] as const).map(
    (kind) => new jsYaml.Type(tag, { kind, construct: (data: unknown) => new TaggedValue(tag, data ?? (kind === "mapping" ? {} : kind === "sequence" ? [] : null)) }),
  ),
);

// Compose reads YAML with Go's yaml.v3, where a plain `0440` is octal (288)
// — what `mode: 0440` means to its writer — while YAML 1.2 reads 440.
// (Its own tag name: js-yaml keeps one type per tag, and this one must come before `int`.)
const LEGACY_OCTAL = new jsYaml.Type("tag:stack,2026:legacy-octal", {
  kind: "scalar",
  resolve: (data: unknown) => typeof data === "string" && /^[-+]?0[0-7]+$/.test(data),
  construct: (data: string) => (data.startsWith("-") ? -1 : 1) * parseInt(data.replace(/^[-+]/, ""), 8),
});

// YAML 1.2 core types (no timestamps, `yes` stays a string), legacy octals,
// merge keys, and compose's tags. Implicit types are tried in order.
// (`types` is exported by js-yaml 4 but missing from its type declarations.)
const TYPES = (jsYaml as unknown as { types: Record<"null" | "bool" | "int" | "float" | "merge", jsYaml.Type> }).types;
const IMPLICIT = [TYPES.null, TYPES.bool, LEGACY_OCTAL, TYPES.int, TYPES.float, TYPES.merge];
/** The js-yaml schema stack files are read with (yaml-subset.ts must give the same values). */
export const SCHEMA = jsYaml.FAILSAFE_SCHEMA.extend({ implicit: IMPLICIT, explicit: TAG_TYPES });

const MAY_RESOLVE = /^(?:$|[-+.0-9~<nNtTfF])/;
const DECIMAL = /^[1-9][0-9]{0,14}$/;
/** Letters that no int or float starting with a digit contains (hex digits, `e`, `o` and `x` may). */
const NOT_A_NUMBER = /[g-np-wyzG-NP-WYZ]/;

const WORD = /^[A-Za-z][A-Za-z_-]*$/;
/** The words js-yaml's null and bool types resolve (YAML 1.2 core schema). */
const WORD_VALUES: Record<string, null | boolean> = {
  null: null,
  Null: null,
  NULL: null,
  true: true,
  True: true,
  TRUE: true,
  false: false,
  False: false,
  FALSE: false,
};

/** A plain scalar's value by the implicit types above, tried in order as js-yaml does (`<<` stays the string "<<"). */
export const resolvePlainScalar: PlainResolver = (text) => {
  // Every implicit type above starts with one of these (or is empty); most
  // scalars (names, paths, images) do not, and skip the resolvers.
  if (!MAY_RESOLVE.test(text)) return text;
  // A word of letters (`none`, `tcp`, `target`, `true`) can only be a null or a boolean.
  if (WORD.test(text)) return Object.hasOwn(WORD_VALUES, text) ? WORD_VALUES[text] : text;
  const first = text.charCodeAt(0);
  if (first >= 48 && first <= 57) {
    // A decimal without a leading zero is an int whatever the types above say;
    // a digit followed by a letter no number has (`30s`, `512m`) is a string.
    if (DECIMAL.test(text)) return Number(text);
    if (NOT_A_NUMBER.test(text)) return text;
  }
  for (const type of IMPLICIT) {
    const t = type as unknown as { resolve(d: string): boolean; construct(d: string): unknown };
    if (t.resolve(text)) return t.construct(text);
  }
  return text;
};

/** The collections given and every collection inside them. */
function withEverythingIn(roots: Set<object>): Set<object> {
  const all = new Set<object>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== "object" || all.has(value)) return;
    all.add(value);
    for (const item of Array.isArray(value) ? value : Object.values(value)) visit(item);
  };
  for (const root of roots) visit(root);
  return all;
}

/** Most values a document may expand to through aliases before it counts as an alias bomb. */
const MAX_NODES = 1_000_000;

/**
 * How many values `value` expands to once every alias is copied. js-yaml
 * shares aliased objects, so sizes are memoized per object: a billion-laughs
 * file is measured in microseconds, before anything is copied. `shared`
 * (from the subset reader) names the only objects that may be reached twice:
 * others are neither memoized nor checked for cycles (there are none).
 */
function expandedSize(value: unknown, memo: Map<object, number>, shared: Set<object> | undefined): number {
  if (value === null || typeof value !== "object") return 1;
  const remember = shared === undefined || shared.has(value);
  if (remember) {
    const known = memo.get(value);
    if (known !== undefined) {
      if (known < 0) return Infinity; // an anchor that contains itself
      return known;
    }
    memo.set(value, -1);
  }
  let size = 1;
  if (value instanceof TaggedValue) {
    size += expandedSize(value.value, memo, shared);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length && size <= MAX_NODES; i++) size += expandedSize(value[i], memo, shared);
  } else {
    for (const key in value) {
      size += expandedSize((value as Record<string, unknown>)[key], memo, shared);
      if (size > MAX_NODES) break;
    }
  }
  if (remember) memo.set(value, size);
  return size;
}

/**
 * Copies the loaded value (js-yaml shares aliased objects; later stages get
 * their own copies), taking the tags off: a `!reset` value is removed and its
 * path recorded, an `!override` value is kept and its path recorded.
 */
function takeValue(value: unknown, path: PathSegment[], resets: PathSegment[][], overrides: PathSegment[][]): unknown {
  // `path` is one stack, pushed and popped: copied only when a tag is recorded.
  if (value instanceof TaggedValue) {
    if (value.tag === "!override") overrides.push([...path]);
    return takeValue(value.value, path, resets, overrides);
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      // A `!reset` item in a list just disappears: there is nothing before it to reset.
      if (item instanceof TaggedValue && item.tag === "!reset") continue;
      path.push(out.length);
      out.push(takeValue(item, path, resets, overrides));
      path.pop();
    }
    return out;
  }
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (v instanceof TaggedValue && v.tag === "!reset") {
      resets.push([...path, key]);
      continue;
    }
    path.push(key);
    out[key] = takeValue(v, path, resets, overrides);
    path.pop();
  }
  return out;
}

/** Every syntax problem `yaml` finds (positions, several at once), else js-yaml's own message. */
function syntaxError(text: string, file: string, cause: unknown): InvalidInputError {
  const { LineCounter, parseDocument } = yamlLib();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: false, uniqueKeys: true, prettyErrors: false });
  let problems = doc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    const message = e.code === "DUPLICATE_KEY" ? `duplicate key ${keyAt(text, e.pos[0])}: a key may appear once per mapping` : describeYamlError(e.message);
    return formatProblem({ path: [], location: { file, ...pos }, message });
  });
  if (problems.length === 0) {
    const mark = (cause as { mark?: { line: number; column: number } }).mark;
    const reason = (cause as { reason?: string }).reason ?? (cause as Error).message;
    problems = [formatProblem({ path: [], location: mark ? { file, line: mark.line + 1, col: mark.column + 1 } : undefined, message: reason })];
  }
  return new InvalidInputError(`${file}: invalid YAML`, { problems, cause, hint: "fix the YAML syntax at the position shown (indentation, quotes, a missing `:`)" });
}

/** The key written at `offset`, quoted for a message. */
function keyAt(text: string, offset: number): string {
  const m = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:\s,{}[\]]+)/.exec(text.slice(offset, offset + 200));
  const key = m?.[1] ?? "";
  return key.startsWith('"') || key.startsWith("'") ? key : JSON.stringify(key);
}

function describeYamlError(message: string): string {
  // `yaml` appends a code excerpt on later lines; the location is ours.
  const first = (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
  if (first.startsWith("Source contains multiple documents")) return "a stack file holds one YAML document; this one has a second `---` document";
  return first;
}

function aliasFloodError(file: string, why: string): InvalidInputError {
  return new InvalidInputError(`${file}: too many YAML aliases (${why}); refusing to expand what looks like a "billion laughs" file`, {
    hint: "use fewer aliases (*name), or repeat the values instead of nesting aliases of aliases",
  });
}

// Counting alias tokens with the lexer is ~100× cheaper than composing the
// document, so a file made of millions of aliases is refused before `yaml`
// spends seconds building its tree.
function refuseAliasFlood(text: string, file: string): void {
  let stars = 0;
  for (let i = text.indexOf("*"); i >= 0 && stars <= MAX_ALIASES; i = text.indexOf("*", i + 1)) stars++;
  if (stars <= MAX_ALIASES) return;
  const { CST, Lexer } = yamlLib();
  let aliases = 0;
  let blockScalar = false;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === "block-scalar-header") {
      blockScalar = true;
    } else if (type === "scalar" || type === "newline") {
      // markers between a block scalar header and its content
    } else if (blockScalar) {
      blockScalar = false; // this token is the block scalar's text
    } else if (type === "alias" && ++aliases > MAX_ALIASES) {
      throw aliasFloodError(file, `more than ${MAX_ALIASES} aliases`);
    }
  }
}

/** The node written at `path`, following aliases and `<<` merge keys. */
function findNode(doc: Document, path: PathSegment[]): Node | undefined {
  let node: unknown = doc.contents;
  for (const seg of path) {
    node = resolveAlias(doc, node);
    node = childOf(doc, node, seg, 0);
    if (node === undefined) return undefined;
  }
  const found = resolveAlias(doc, node);
  return (found ?? undefined) as Node | undefined;
}

function resolveAlias(doc: Document, node: unknown): unknown {
  const { isAlias } = yamlLib();
  let n = node;
  for (let hops = 0; isAlias(n) && hops < 100; hops++) n = n.resolve(doc);
  return n;
}

function childOf(doc: Document, node: unknown, seg: PathSegment, depth: number): unknown {
  const { isMap, isPair, isScalar, isSeq } = yamlLib();
  if (depth > 20) return undefined;
  if (isSeq(node)) return typeof seg === "number" ? node.items[seg] : undefined;
  if (!isMap(node)) return undefined;
  let merged: unknown;
  for (const pair of node.items) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const raw = pair.key.value;
    const isMerge = raw === "<<" || (typeof raw === "symbol" && raw.description === "<<");
    if (!isMerge && String(raw) === String(seg)) return pair.value ?? pair.key;
    if (isMerge && merged === undefined) {
      const sources = resolveAlias(doc, pair.value);
      const list = isSeq(sources) ? sources.items : [sources];
      for (const source of list) {
        const hit = childOf(doc, resolveAlias(doc, source), seg, depth + 1);
        if (hit !== undefined) {
          merged = hit;
          break;
        }
      }
    }
  }
  return merged;
}
