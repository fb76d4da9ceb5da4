// A reader for the block-style YAML that nearly every stack file is written
// in: mappings and sequences by indentation, plain and quoted one-line
// scalars, one-line flow collections (`[a, b]`, `{k: v}`), comments, anchors,
// aliases and `<<` merge keys. It gives the value js-yaml gives (same plain
// scalar types, same sharing of aliased objects, same merge rules) and is
// several times faster on a cold start: it matches whole lines with regular
// expressions instead of walking the text one character at a time in
// JavaScript that has not been compiled yet.
//
// Anything else — block scalars (`|`, `>`), tags (`!reset`), multi-line plain,
// quoted or flow values, tabs, `\r`, documents markers, complex keys,
// duplicate keys, unknown aliases, unusual escapes — makes it give up
// (`undefined`) and the caller parses the file with js-yaml, which also
// reports every error. It never throws on bad input.

/** Resolves a plain scalar as the js-yaml schema in use does (null, bool, int, float, else the string; `<<` is the string "<<"). */
export type PlainResolver = (text: string) => unknown;

interface Line {
  indent: number;
  /** The content after the indentation, comments and trailing blanks removed (quoted `#` kept). */
  text: string;
}

class GiveUp extends Error {}

/** Deepest nesting js-yaml accepts (its maxDepth). */
const MAX_DEPTH = 100;
/** js-yaml's budget of merged keys (maxTotalMergeKeys), counted the same way. */
const MAX_MERGE_WORK = 10_000;

/**
 * The document's value, or undefined when the text is outside the subset.
 * `anchored`, when given, receives every collection that carries an anchor:
 * the only objects an alias or a merge key can share (the subset reader
 * makes no cycles: an alias names an anchor whose value is complete).
 */
export function parseYamlSubset(text: string, resolvePlain: PlainResolver, anchored?: Set<object>): Record<string, unknown> | undefined {
  if (/[\t\r\ufeff]|^(?:---|\.\.\.|%)/m.test(text)) return undefined;
  try {
    const lines = splitLines(text);
    if (lines.length === 0) return undefined;
    const reader = new SubsetReader(lines, resolvePlain);
    if (lines[0]!.indent !== 0) return undefined;
    const value = reader.block(0, 0);
    if (reader.pos !== lines.length || value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    if (anchored) reader.anchoredCollections(anchored);
    return value as Record<string, unknown>;
  } catch (e) {
    if (e instanceof GiveUp) return undefined;
    throw e;
  }
}

function giveUp(): never {
  throw new GiveUp();
}

// A line: indentation, then anything up to a comment. A `#` starts a comment
// at the line start or after a blank, outside quotes (stripComment).
function splitLines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    // Indentation and trailing blanks are spaces only (tabs and \r gave up before).
    let from = start;
    while (from < end && text.charCodeAt(from) === 32) from++;
    let to = end;
    while (to > from && text.charCodeAt(to - 1) === 32) to--;
    const indent = from - start;
    start = end + 1;
    if (from === to || text.charCodeAt(from) === 35) continue; // blank, or a comment line
    let body = text.slice(from, to);
    if (body.includes("#")) {
      body = stripComment(body);
      if (body === "") continue;
    }
    out.push({ indent, text: body });
  }
  return out;
}

/** The line without its ` # comment`, quotes respected; gives up on an unterminated quote. */
function stripComment(body: string): string {
  let i = 0;
  while (i < body.length) {
    const c = body[i];
    if (c === "'" || c === '"') {
      // A quote starts a quoted scalar only where a scalar starts: line start, after `: `, `- `, `[`, `{`, `,`.
      const before = i === 0 ? " " : body[i - 1]!;
      if (before === " " || before === "[" || before === "{" || before === ",") {
        i = endOfQuoted(body, i);
        continue;
      }
    } else if (c === "#" && (i === 0 || body[i - 1] === " ")) {
      return body.slice(0, i).trimEnd();
    }
    i++;
  }
  return body;
}

/** Index just after the quoted scalar starting at `start`. */
function endOfQuoted(s: string, start: number): number {
  const q = s[start];
  let i = start + 1;
  while (i < s.length) {
    const c = s[i];
    if (q === '"' && c === "\\") {
      i += 2;
      continue;
    }
    if (c === q) {
      if (q === "'" && s[i + 1] === "'") {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return giveUp();
}

// `key:` or `key: value`. Keys: a plain word of common characters, or quoted on one line.
const MAPPING_ENTRY = /^(?:([A-Za-z0-9_./$][A-Za-z0-9_./$@+=~-]*|<<)|"((?:[^"\\]|\\["\\/])*)"|'((?:[^']|'')*)'):(?: +(.*))?$/;
const ANCHOR = /^&([^\s,[\]{}]+)(?: +(.*))?$/;
const ALIAS = /^\*([^\s,[\]{}]+)$/;

class SubsetReader {
  pos = 0;
  private readonly anchors = new Map<string, unknown>();
  private mergeWork = 0;

  /** Adds the anchored collections (objects and lists) to `into`. */
  anchoredCollections(into: Set<object>): void {
    for (const value of this.anchors.values()) if (value !== null && typeof value === "object") into.add(value);
  }

  constructor(
    private readonly lines: Line[],
    private readonly resolvePlain: PlainResolver,
  ) {}

  /** The block node starting at the current line, whose indentation is `indent`. */
  block(indent: number, depth: number): unknown {
    if (depth > MAX_DEPTH) giveUp();
    const line = this.lines[this.pos]!;
    if (line.indent !== indent) giveUp();
    if (line.text === "-" || line.text.startsWith("- ")) return this.sequence(indent, depth);
    if (MAPPING_ENTRY.test(line.text)) return this.mapping(indent, depth);
    return giveUp(); // a multi-line scalar, or a line outside the subset
  }

  private mapping(indent: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    // Keys a merge (`<<`) brought in, which a key written here may override (made on the first merge).
    let overridable: Set<string> | undefined;
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent) giveUp();
      const m = MAPPING_ENTRY.exec(line.text);
      if (!m) giveUp();
      this.pos++;
      const isMerge = m[1] === "<<";
      const key = m[1] !== undefined ? (isMerge ? "<<" : String(this.resolvePlain(m[1]))) : m[2] !== undefined ? unescapeDouble(m[2]) : m[3]!.replace(/''/g, "'");
      if (key === "__proto__") giveUp();
      const value = this.valueAfterIndicator(m[4], indent, depth, true);
      if (isMerge) {
        this.merge(out, value, (overridable ??= new Set<string>()));
        continue;
      }
      if (Object.hasOwn(out, key) && !overridable?.has(key)) giveUp(); // duplicate key: js-yaml reports it
      overridable?.delete(key);
      out[key] = value;
    }
    return out;
  }

  private merge(into: Record<string, unknown>, source: unknown, overridable: Set<string>): void {
    const sources = Array.isArray(source) ? source : [source];
    for (const s of sources) {
      if (s === null || typeof s !== "object" || Array.isArray(s)) giveUp();
      this.chargeMerge();
      for (const key of Object.keys(s)) {
        this.chargeMerge();
        if (!Object.hasOwn(into, key)) {
          into[key] = (s as Record<string, unknown>)[key];
          overridable.add(key);
        }
      }
    }
  }

  private chargeMerge(): void {
    if (++this.mergeWork > MAX_MERGE_WORK) giveUp();
  }

  private sequence(indent: number, depth: number): unknown[] {
    const out: unknown[] = [];
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent) giveUp();
      if (line.text !== "-" && !line.text.startsWith("- ")) break; // a key of the mapping this sequence is the value of
      const rest = line.text === "-" ? "" : line.text.slice(2);
      const offset = rest.length - rest.trimStart().length;
      const content = rest.trimStart();
      if (content.startsWith("- ") || content === "-") giveUp(); // `- - x`
      if (content !== "" && MAPPING_ENTRY.test(content) && !content.startsWith('"') && !content.startsWith("'")) {
        // `- key: value`: a mapping whose keys line up after the dash.
        this.lines[this.pos] = { indent: indent + 2 + offset, text: content };
        out.push(this.mapping(indent + 2 + offset, depth + 1));
        continue;
      }
      if (content !== "" && MAPPING_ENTRY.test(content)) giveUp(); // a quoted key after a dash
      this.pos++;
      out.push(this.valueAfterIndicator(content === "" ? undefined : content, indent, depth, false));
    }
    return out;
  }

  /**
   * The value after `key:` or `-` (`inline` is what follows on the same line):
   * an inline value, or a block on the next lines (more indented; for a
   * mapping value, a sequence may also sit at the key's indentation).
   */
  private valueAfterIndicator(inline: string | undefined, indent: number, depth: number, inMapping: boolean): unknown {
    let anchor: string | undefined;
    if (inline !== undefined && inline.startsWith("&")) {
      const a = ANCHOR.exec(inline);
      if (!a) giveUp();
      anchor = a[1]!;
      inline = a[2];
    }
    let value: unknown;
    if (inline === undefined) {
      const next = this.lines[this.pos];
      if (next && next.indent > indent) value = this.block(next.indent, depth + 1);
      else if (next && inMapping && next.indent === indent && (next.text === "-" || next.text.startsWith("- "))) value = this.sequence(indent, depth + 1);
      else value = null;
    } else {
      value = this.inlineValue(inline, depth);
      const next = this.lines[this.pos];
      if (next && next.indent > indent) giveUp(); // a continuation line: a multi-line scalar
    }
    if (anchor !== undefined) this.anchors.set(anchor, value);
    return value;
  }

  /** A whole one-line value in block context. */
  private inlineValue(text: string, depth: number): unknown {
    const c = text[0]!;
    if (c === "*") {
      const a = ALIAS.exec(text);
      if (!a || !this.anchors.has(a[1]!)) giveUp();
      return this.anchors.get(a[1]!);
    }
    if (c === '"' || c === "'") {
      const end = endOfQuoted(text, 0);
      if (end !== text.length) giveUp();
      return c === '"' ? unescapeDouble(text.slice(1, -1)) : text.slice(1, -1).replace(/''/g, "'");
    }
    if (c === "[" || c === "{") {
      const flow = new FlowReader(text, this.resolvePlain, this.anchors, depth);
      const value = flow.node();
      if (flow.pos !== text.length) giveUp();
      return value;
    }
    if (!PLAIN_START.test(text) || /: |:$| #/.test(text)) giveUp();
    return this.resolvePlain(text);
  }
}

/** What a plain scalar may start with here (indicators and ambiguous starts give up). */
const PLAIN_START = /^(?:[^\s\-?:,[\]{}#&*!|>'"%@`]|[-?][^\s,[\]{}])/;

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", n: "\n", t: "\t" };

/** A double-quoted body with the common escapes (`\" \\ \/ \n \t`); others give up. */
function unescapeDouble(body: string): string {
  if (!body.includes("\\")) return body;
  return body.replace(/\\(.)/g, (_, c: string) => SIMPLE_ESCAPES[c] ?? giveUp());
}

/** One-line flow collections: `[a, "b", *c]`, `{k: v, k2: [1, 2]}`. */
class FlowReader {
  pos = 0;

  constructor(
    private readonly text: string,
    private readonly resolvePlain: PlainResolver,
    private readonly anchors: Map<string, unknown>,
    private readonly depth: number,
  ) {}

  node(depth = this.depth): unknown {
    if (depth > MAX_DEPTH) giveUp();
    const c = this.text[this.pos];
    if (c === "[") return this.list(depth);
    if (c === "{") return this.map(depth);
    return this.scalar();
  }

  private skipSpaces(): void {
    while (this.text[this.pos] === " ") this.pos++;
  }

  private list(depth: number): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.skipSpaces();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpaces();
      out.push(this.node(depth + 1));
      this.skipSpaces();
      const c = this.text[this.pos];
      this.pos++;
      if (c === "]") return out;
      if (c !== ",") giveUp();
      this.skipSpaces();
      if (this.text[this.pos] === "]") giveUp(); // a trailing comma: leave it to js-yaml
    }
  }

  private map(depth: number): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    this.skipSpaces();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpaces();
      const keyNode = this.scalar(true);
      if (typeof keyNode === "object" && keyNode !== null) giveUp();
      const key = String(keyNode);
      if (key === "__proto__" || key === "<<" || Object.hasOwn(out, key)) giveUp();
      if (this.text[this.pos] !== ":" || this.text[this.pos + 1] !== " ") giveUp();
      this.pos += 2;
      this.skipSpaces();
      out[key] = this.node(depth + 1);
      this.skipSpaces();
      const c = this.text[this.pos];
      this.pos++;
      if (c === "}") return out;
      if (c !== ",") giveUp();
      this.skipSpaces();
      if (this.text[this.pos] === "}") giveUp();
    }
  }

  /** A quoted or plain scalar, or an alias; in a key, the plain scalar stops before `: `. */
  private scalar(isKey = false): unknown {
    const { text } = this;
    const c = text[this.pos];
    if (c === '"' || c === "'") {
      const end = endOfQuoted(text, this.pos);
      const body = text.slice(this.pos + 1, end - 1);
      this.pos = end;
      return c === '"' ? unescapeDouble(body) : body.replace(/''/g, "'");
    }
    if (c === "*" && !isKey) {
      FLOW_ALIAS.lastIndex = this.pos;
      const m = FLOW_ALIAS.exec(text);
      if (!m || !this.anchors.has(m[1]!)) giveUp();
      this.pos += m[0].length;
      return this.anchors.get(m[1]!);
    }
    FLOW_PLAIN.lastIndex = this.pos;
    const m = FLOW_PLAIN.exec(text);
    if (!m) giveUp();
    const raw = m[0].trimEnd();
    if (raw.includes(" #")) giveUp();
    this.pos += m[0].length;
    if (raw === "<<") giveUp(); // a merge key in a flow mapping: leave it to js-yaml
    return this.resolvePlain(raw);
  }
}

// Sticky (matched where the reader is, without copying the rest of the line).
const FLOW_ALIAS = /\*([^\s,[\]{}]+)/y;
/** A plain flow scalar: up to `,` `]` `}` or `: `; a `:` glued to the next character stays in the scalar. */
const FLOW_PLAIN = /[^\s,[\]{}#&*!|>'"%@`?:-](?:[^,[\]{}:#]|:(?=[^\s,[\]{}]))*|-(?=[^\s,[\]{}])(?:[^,[\]{}:#]|:(?=[^\s,[\]{}]))*/y;
