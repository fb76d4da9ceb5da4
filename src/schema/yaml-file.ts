// Stage 1 of loading: YAML text → a plain document that remembers where each
// value was written. Anchors, aliases and merge keys (`<<`) are expanded here;
// `!reset` and `!override` tags are taken off the tree and handed to the merge
// stage as paths; duplicate keys and excessive aliasing are errors.
import { CST, isAlias, isMap, isPair, isScalar, isSeq, Lexer, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { InvalidInputError } from "../errors.js";
import { formatProblem, type Location, type ParsedFile, type PathSegment } from "./source.js";

/**
 * The most alias nodes a stack file may contain, and the most alias
 * expansions (weighted by what they expand to) `yaml` may perform. Real stack
 * files use tens; a billion-laughs file needs millions.
 */
export const MAX_ALIASES = 10_000;

/** A parsed stack file plus the tags the merge stage applies. */
export interface YamlFile extends ParsedFile {
  /** Paths whose value was tagged `!reset`: removed from `doc`; the merge deletes them from what came before. */
  resets: PathSegment[][];
  /** Paths whose value was tagged `!override`: kept in `doc`; the merge replaces instead of merging. */
  overrides: PathSegment[][];
}

/** Parses one stack file. `file` is the name used in messages ("-" for stdin). */
export function parseYamlFile(text: string, file: string): YamlFile {
  refuseAliasFlood(text, file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: false, keepSourceTokens: false });
  const where = (offset: number): Location => {
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, col: pos.col };
  };
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => formatProblem({ path: [], location: where(e.pos[0]), message: describeYamlError(e.message) }));
    throw new InvalidInputError(`${file}: invalid YAML`, {
      problems,
      hint: "fix the YAML syntax at the position shown (indentation, quotes, a missing `:`)",
    });
  }
  const resets: PathSegment[][] = [];
  const overrides: PathSegment[][] = [];
  if (doc.contents) takeTags(doc.contents, [], resets, overrides);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    const message = (e as Error).message;
    if (/resource exhaustion/i.test(message)) throw aliasFloodError(file);
    throw new InvalidInputError(`${file}: ${message}`, { hint: "define each anchor (&name) before the aliases (*name) that use it", cause: e });
  }
  if (value === null || value === undefined) value = {};
  if (typeof value !== "object" || Array.isArray(value)) {
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
    locate(path: PathSegment[]) {
      const node = findNode(doc, path);
      return node?.range ? where(node.range[0]) : undefined;
    },
  };
}

function describeYamlError(message: string): string {
  // `yaml` appends a code excerpt on later lines; the location is ours.
  const first = (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
  if (first.startsWith("Source contains multiple documents")) return "a stack file holds one YAML document; this one has a second `---` document";
  return first;
}

function aliasFloodError(file: string): InvalidInputError {
  return new InvalidInputError(`${file}: too many YAML aliases (more than ${MAX_ALIASES} alias expansions); refusing to expand what looks like a "billion laughs" file`, {
    hint: "use fewer aliases (*name), or repeat the values instead of nesting aliases of aliases",
  });
}

// Counting alias tokens with the lexer is ~100× cheaper than composing the
// document, so a file made of millions of aliases is refused before `yaml`
// spends seconds building its tree.
function refuseAliasFlood(text: string, file: string): void {
  if (!text.includes("*")) return;
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
      throw aliasFloodError(file);
    }
  }
}

/** Removes `!reset` values and untags `!override` ones, recording their paths. */
function takeTags(node: Node, path: PathSegment[], resets: PathSegment[][], overrides: PathSegment[][]): void {
  if (isMap(node)) {
    node.items = node.items.filter((pair) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      const value = pair.value as Node | null;
      if (key === undefined || value === null || isAlias(value)) return true;
      const here = [...path, key];
      if (value.tag === "!reset") {
        resets.push(here);
        return false;
      }
      if (value.tag === "!override") {
        overrides.push(here);
        value.tag = undefined;
      }
      takeTags(value, here, resets, overrides);
      return true;
    });
  } else if (isSeq(node)) {
    // A `!reset` item in a list just disappears: there is nothing before it to reset.
    node.items = node.items.filter((item) => !(item && !isAlias(item) && (item as Node).tag === "!reset"));
    node.items.forEach((item, i) => {
      if (item && !isAlias(item)) {
        if ((item as Node).tag === "!override") (item as Node).tag = undefined;
        takeTags(item as Node, [...path, i], resets, overrides);
      }
    });
  } else if (isScalar(node) && (node.tag === "!override" || node.tag === "!reset")) {
    node.tag = undefined;
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
  let n = node;
  for (let hops = 0; isAlias(n) && hops < 100; hops++) n = n.resolve(doc);
  return n;
}

function childOf(doc: Document, node: unknown, seg: PathSegment, depth: number): unknown {
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
