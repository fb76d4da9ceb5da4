// The canonical YAML text of plain data (what `stack config` prints): block
// style, two-space indentation, sequences indented under their key, keys
// sorted, empty collections as `{}`/`[]`, no line folding, and strings quoted
// wherever a YAML 1.1 reader would take them for anything but that string
// (`no`, `on`, `0755`, `1:30`, `2024-01-01`, `~` …).
//
// The text is byte for byte what the `yaml` library prints with
// `stringify(sortDeep(value), {version: "1.1", lineWidth: 0,
// aliasDuplicateObjects: false})` — a unit test compares the two on a large
// set of tricky values — but written directly from the value: no document
// tree, no sorted copy, and `yaml` is not loaded at all. `stack config` on a
// 300-service file spent most of its time in that tree (~400 ms of ~900).
//
// Values outside plain data (class instances, bigint, symbols, functions) and
// keys too long for an implicit key (> 1024 characters, written `? key` by
// YAML) are not handled here: `canonicalYaml` throws `OutsideCanonicalYaml`,
// and the caller prints them the slow way.

/** Thrown for a value this writer does not handle; nothing has been printed. */
export class OutsideCanonicalYaml extends Error {}

const STEP = "  ";

/** The YAML document of a mapping, ending with a newline. */
export function canonicalYaml(root: Record<string, unknown>): string {
  return canonicalYamlChunks(root).join("");
}

/**
 * The same text in pieces of a few KB, to be written one after the other:
 * a caller that only writes the text out never makes it one string (for
 * `stack config` on a large file, hundreds of KB of fresh memory twice over:
 * the string, and the buffer it is encoded into).
 */
export function canonicalYamlChunks(root: Record<string, unknown>): string[] {
  if (!isPlainObject(root)) throw new OutsideCanonicalYaml("the root is not a mapping");
  const keys = sortedKeys(root);
  if (keys.length === 0) return ["{}\n"];
  const writer = new Writer();
  writer.mapping(root, keys, 0);
  return writer.chunks();
}

// The writer appends pieces (most of them strings that already exist: keys,
// values, indentation made once per depth) to a string. Each append makes a
// rope cell; a rope as long as the whole output (hundreds of thousands of
// cells for `stack config` on a large file) stays alive to the end, and
// every young-generation GC copies the cells made since the last one. So the
// text is cut into segments of a few KB: each is flattened as soon as it is
// complete (its cells die young, at no cost to the GC), and the segments are
// joined once at the end.
const INDENTS: string[] = [""];
const BREAKS: string[] = ["\n"];
function indentOf(depth: number): string {
  while (INDENTS.length <= depth) {
    INDENTS.push(INDENTS[INDENTS.length - 1]! + STEP);
    BREAKS.push(`\n${INDENTS[INDENTS.length - 1]!}`);
  }
  return INDENTS[depth]!;
}

/**
 * Key texts below the top level, by key: a model repeats the same few dozen
 * keys thousands of times. (A key's text depends on its depth only at the top
 * level, where `---` and `...` must be quoted.)
 */
const innerKeyTexts = new Map<string, string>();

function keyText(key: string, depth: number): string {
  if (depth === 0) return stringText(key, STEP, true);
  let text = innerKeyTexts.get(key);
  if (text === undefined) {
    text = stringText(key, INDENTS[depth + 1]!, true);
    if (innerKeyTexts.size < 4096) innerKeyTexts.set(key, text);
  }
  return text;
}

/** Segments are cut at the next mapping entry once they hold this many characters. */
const SEGMENT = 4096;

class Writer {
  /** The segment being written. */
  out = "";
  private readonly segments: string[] = [];

  /** The whole document in segments, the last ending with a newline. */
  chunks(): string[] {
    this.segments.push(`${this.out}\n`);
    return this.segments;
  }

  private cut(): void {
    if (this.out.length < SEGMENT) return;
    // Reading a character of a rope makes V8 flatten it into one string.
    this.out.charCodeAt(0);
    this.segments.push(this.out);
    this.out = "";
  }

  /** A non-empty mapping whose keys sit at `depth` (the first key is written where the text is now). */
  mapping(obj: Record<string, unknown>, keys: string[], depth: number): void {
    indentOf(depth + 1);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const text = keyText(key, depth);
      if (text.length > 1024) throw new OutsideCanonicalYaml(`a key of ${text.length} characters`);
      if (i > 0) this.out += BREAKS[depth]!;
      this.cut();
      this.out += text;
      this.out += ":";
      this.valueAfter(obj[key], depth + 1, true);
    }
  }

  sequence(items: unknown[], depth: number): void {
    indentOf(depth + 1);
    for (let i = 0; i < items.length; i++) {
      if (i > 0) this.out += BREAKS[depth]!;
      this.out += "-";
      this.valueAfter(items[i], depth + 1, false);
    }
  }

  /**
   * A value after its `key:` or `-` (`depth` is the depth of the value's own
   * lines): scalars and empty collections follow on the same line after a
   * space; a non-empty collection follows on a new line under a key, after a
   * space in a sequence.
   */
  valueAfter(value: unknown, depth: number, underKey: boolean): void {
    if (typeof value === "string") {
      this.out += " ";
      this.out += stringText(value, INDENTS[depth]!, false);
      return;
    }
    if (Array.isArray(value)) {
      if (value.length === 0) {
        this.out += " []";
        return;
      }
      this.out += underKey ? BREAKS[depth]! : " ";
      this.sequence(value, depth);
      return;
    }
    if (value !== null && typeof value === "object") {
      if (!isPlainObject(value)) throw new OutsideCanonicalYaml(`a ${value.constructor?.name ?? "non-plain"} object`);
      const keys = sortedKeys(value);
      if (keys.length === 0) {
        this.out += " {}";
        return;
      }
      this.out += underKey ? BREAKS[depth]! : " ";
      this.mapping(value, keys, depth);
      return;
    }
    this.out += " ";
    this.out += scalarText(value, INDENTS[depth]!);
  }
}

/**
 * The order in which the keys of a sorted copy would be enumerated: a
 * JavaScript object lists array-index keys ("0", "42") first, in numeric
 * order, whatever order they were inserted in. The result may be shared
 * between calls: never change it.
 */
function sortedKeys(obj: Record<string, unknown>): string[] {
  const keys = Object.keys(obj);
  const n = keys.length;
  if (n === 0) return keys;
  // Object.keys lists index keys first: a first key that starts with no digit means there are none.
  const c = keys[0]!.charCodeAt(0);
  if (c >= 48 && c <= 57) return sortedKeysSlow(obj);
  let inOrder = true;
  for (let i = 0; i < n; i++) {
    const key = keys[i]!;
    if (obj[key] === undefined) return sortedKeysSlow(obj);
    if (i > 0 && keys[i - 1]! > key) inOrder = false;
  }
  if (inOrder) return keys;
  // A model repeats a few shapes (a service, a port, a mount) hundreds of
  // times, with keys inserted in the same order: their sorted order is kept
  // by first key, a few shapes per first key (ports with and without
  // `host_ip`, bind, volume and tmpfs mounts alternate), and reused when the
  // same keys come in the same order.
  const known = shapes.get(keys[0]!);
  if (known !== undefined) {
    for (let i = 0; i < known.length; i++) if (sameKeys(known[i]!.keys, keys)) return known[i]!.sorted;
  }
  const sorted = keys.slice().sort();
  if (known === undefined) {
    if (shapes.size < 512) shapes.set(keys[0]!, [{ keys, sorted }]);
  } else if (known.length < SHAPES_PER_FIRST_KEY) {
    known.push({ keys, sorted });
  } else {
    known[known.length - 1] = { keys, sorted };
  }
  return sorted;
}

const SHAPES_PER_FIRST_KEY = 8;
const shapes = new Map<string, Array<{ keys: string[]; sorted: string[] }>>();

function sameKeys(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** sortedKeys for objects with index keys or undefined members. */
function sortedKeysSlow(obj: Record<string, unknown>): string[] {
  const keys: string[] = [];
  let indexes: string[] | undefined;
  for (const key of Object.keys(obj)) {
    if (obj[key] === undefined) continue;
    if (isArrayIndex(key)) (indexes ??= []).push(key);
    else keys.push(key);
  }
  keys.sort();
  if (indexes === undefined) return keys;
  indexes.sort((a, b) => Number(a) - Number(b));
  return [...indexes, ...keys];
}

function isArrayIndex(key: string): boolean {
  const c = key.charCodeAt(0);
  if (c < 48 || c > 57) return false;
  return /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < 4294967295;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function scalarText(value: unknown, indent: string): string {
  switch (typeof value) {
    case "string":
      return stringText(value, indent, false);
    case "number":
      if (Number.isNaN(value)) return ".nan";
      if (!Number.isFinite(value)) return value < 0 ? "-.inf" : ".inf";
      return Object.is(value, -0) ? "-0" : JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return "null"; // only reached in a list: object members that are undefined are left out
    case "object":
      return "null";
    default:
      throw new OutsideCanonicalYaml(`a ${typeof value} value`);
  }
}

// ---- strings -------------------------------------------------------------
//
// A string is written plain when a reader gets it back as that same string,
// else quoted; a multi-line value (not a key) is a literal block (`|`).

/** C0/C1 controls other than tab and newline, DEL, and lone surrogates: only a double-quoted escape can carry them. */
const NEEDS_ESCAPE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u{d800}-\u{dfff}]/u;

/** What a plain scalar cannot be: it would start an indicator, a comment, a mapping value, or lose blanks. */
const PLAIN_UNSAFE = new RegExp(
  [
    "^[\\n\\t ,\\[\\]{}#&*!|>'\"%@`]", // starts with blank or an indicator
    "^[-?]$", // a lone `-` or `?`
    "^[-?][\\t ]", // `- x`, `? x`: a block entry or an explicit key
    "[\\n:][\\t ]", // `: ` starts a value; a line may not start with blanks
    "[\\t ]\\n", // blanks before a line break are dropped
    "[\\n\\t ]#", // ` #` starts a comment
    "[\\n\\t :]$", // ends with a blank or `:`
  ].join("|"),
);

/** A string that none of the rules below quote, but for NOT_A_STRING (no indicator, blank, `:`, `#`, break or control; `---` and `...` cannot match). */
const COMMON_WORD = /^[A-Za-z0-9_/][A-Za-z0-9_./-]*$/;

/** A `---` or `...` line (or a `%` directive) would end the document. */
const DOCUMENT_MARKER = /^(%|---|\.\.\.)/m;

/**
 * Plain scalars a YAML 1.1 reader resolves to something other than a string:
 * null, booleans (yes/no/on/off/y/n…), integers (binary, octal, decimal, hex,
 * base 60), floats (incl. .inf/.nan, base 60) and timestamps.
 */
const NOT_A_STRING = [
  /^(?:~|[Nn]ull|NULL)?$/,
  /^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/,
  /^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/,
  /^[-+]?0b[0-1_]+$/,
  /^[-+]?0[0-7_]+$/,
  /^[-+]?[0-9][0-9_]*$/,
  /^[-+]?0x[0-9a-fA-F_]+$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/,
  /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/,
  /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+$/,
  /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*$/,
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:t|T|[ \t]+)[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:[ \t]*(?:Z|[-+][012]?[0-9](?::[0-9]{2})?))?)?$/,
];

/** First characters with which a string can match NOT_A_STRING ("" included). */
const MAYBE_NOT_A_STRING = /^(?:$|[~nNyYtTfFoOeE+\-.0-9])/;

/** The NOT_A_STRING forms that can start with a letter: null, booleans, and exponents (`e5`). */
const NULL_OR_BOOL = /^(?:[Nn]ull|NULL|Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON|N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
const EXPONENT = NOT_A_STRING[8]!;

function resolvesToOther(value: string): boolean {
  if (!MAYBE_NOT_A_STRING.test(value)) return false;
  const c = value.charCodeAt(0) | 0x20; // lower case, for letters
  if (c >= 97 && c <= 122) return NULL_OR_BOOL.test(value) || (c === 101 && EXPONENT.test(value));
  for (const re of NOT_A_STRING) if (re.test(value)) return true;
  return false;
}

/**
 * `indent` is the indentation of the string's own lines (its collection's
 * indentation plus one step); `isKey` for a mapping key, which must stay on
 * one line.
 */
function stringText(value: string, indent: string, isKey: boolean): string {
  // Most strings (names, paths, images) are one word of common characters:
  // plain unless a YAML 1.1 reader resolves them to something else.
  if (COMMON_WORD.test(value)) return resolvesToOther(value) ? quoted(value, indent, isKey) : value;
  // `yaml` takes the string "<<" for its merge-key type and prints it bare,
  // key or value; kept so for the same bytes.
  if (value === "<<") return value;
  if (NEEDS_ESCAPE.test(value)) return doubleQuoted(value, indent, isKey);
  const multiLine = value.includes("\n");
  if (isKey && multiLine) return quoted(value, indent, isKey);
  if (PLAIN_UNSAFE.test(value)) return isKey || !multiLine ? quoted(value, indent, isKey) : literalBlock(value, indent, isKey);
  if (multiLine) return literalBlock(value, indent, isKey);
  // One line from here on.
  if (isKey && indent === STEP && DOCUMENT_MARKER.test(value)) return quoted(value, indent, isKey);
  if (resolvesToOther(value)) return quoted(value, indent, isKey);
  return value;
}

/** Single quotes for a string with `"` and no `'`; double quotes otherwise. */
function quoted(value: string, indent: string, isKey: boolean): string {
  if (value.includes('"') && !value.includes("'")) return singleQuoted(value, indent, isKey);
  return doubleQuoted(value, indent, isKey);
}

function singleQuoted(value: string, indent: string, isKey: boolean): string {
  // Single quotes cannot keep blanks next to a line break, nor a break in a key.
  if ((isKey && value.includes("\n")) || /[ \t]\n|\n[ \t]/.test(value)) return doubleQuoted(value, indent, isKey);
  // A line break in single quotes is written as one more (a lone one would fold to a space).
  return `'${value.replace(/'/g, "''").replace(/\n+/g, (breaks) => `${breaks}\n${indent}`)}'`;
}

/** Escapes YAML has and JSON does not, by the code JSON writes (\u00XX). */
const YAML_ESCAPES: Record<string, string> = {
  "0000": "\\0",
  "0007": "\\a",
  "000b": "\\v",
  "001b": "\\e",
  "0085": "\\N",
  "00a0": "\\_",
  "2028": "\\L",
  "2029": "\\P",
};

/**
 * Double quotes: JSON's escapes, with YAML's short forms for control
 * characters. In a value of 40 or more JSON characters, each `\n` that is not
 * the last character becomes a real line break (written as an empty line, as
 * a single break folds to a space); blanks next to such breaks are escaped so
 * that folding keeps them.
 */
function doubleQuoted(value: string, indent: string, isKey: boolean): string {
  const json = JSON.stringify(value);
  const breakLines = !isKey && json.length >= 40;
  let out = "";
  let i = 1;
  const last = json.length - 1; // the closing quote
  let copied = 0; // json[0, copied) is in out
  while (i < last) {
    const ch = json[i]!;
    if (ch === " " && json[i + 1] === "\\" && json[i + 2] === "n") {
      out += `${json.slice(copied, i)}\\ `;
      copied = i + 1;
      i++;
      continue;
    }
    if (ch !== "\\") {
      i++;
      continue;
    }
    const kind = json[i + 1];
    if (kind === "u") {
      const code = json.slice(i + 2, i + 6);
      const short = YAML_ESCAPES[code] ?? (code.startsWith("00") ? `\\x${code.slice(2)}` : `\\u${code}`);
      out += json.slice(copied, i) + short;
      i += 6;
      copied = i;
    } else if (kind === "n" && breakLines && i + 2 < last) {
      out += `${json.slice(copied, i)}\n\n`;
      i += 2;
      while (json[i] === "\\" && json[i + 1] === "n" && i + 2 < last) {
        out += "\n";
        i += 2;
      }
      out += indent;
      if (json[i] === " ") out += "\\";
      copied = i;
    } else {
      i += 2;
    }
  }
  return copied === 0 ? json : out + json.slice(copied);
}

/**
 * A literal block (`|`): chomping from the trailing breaks (`-` none, clip
 * one, `+` more or only breaks), an indentation indicator when the text
 * starts with a space. A value ending in blanks after a break is quoted.
 */
function literalBlock(value: string, indent: string, isKey: boolean): string {
  if (/\n[\t ]+$/.test(value)) return quoted(value, indent, isKey);
  let bodyEnd = value.length;
  while (bodyEnd > 0 && isBlankOrBreak(value.charCodeAt(bodyEnd - 1))) bodyEnd--;
  let tail = value.slice(bodyEnd);
  const firstBreak = tail.indexOf("\n");
  const chomp = firstBreak < 0 ? "-" : bodyEnd === 0 || firstBreak !== tail.length - 1 ? "+" : "";
  let body = value.slice(0, bodyEnd);
  if (tail.endsWith("\n")) tail = tail.slice(0, -1);
  tail = indentBreaksBeforeText(tail, indent);

  // Leading blank lines (and blanks up to the last leading break) stay outside the body's indentation.
  let leadingSpace = false;
  let lastLeadingBreak = -1;
  for (let j = 0; j < body.length; j++) {
    const c = body[j];
    if (c === " ") leadingSpace = true;
    else if (c === "\n") lastLeadingBreak = j;
    else break;
  }
  let head = "";
  if (lastLeadingBreak >= 0) {
    head = body.slice(0, lastLeadingBreak + 1).replace(/\n+/g, (breaks) => breaks + indent);
    body = body.slice(lastLeadingBreak + 1);
  }
  const header = `|${leadingSpace ? "2" : ""}${chomp}`;
  return `${header}\n${indent}${head}${body.replace(/\n+/g, (breaks) => breaks + indent)}${tail}`;
}

function isBlankOrBreak(c: number): boolean {
  return c === 10 || c === 9 || c === 32;
}

/** Each run of line breaks followed by more text gets the indentation after it. */
function indentBreaksBeforeText(text: string, indent: string): string {
  return text.replace(/\n+/g, (breaks, offset: number) => (offset + breaks.length < text.length ? breaks + indent : breaks));
}
