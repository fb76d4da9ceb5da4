// The Dockerfile parser: text in, one node per instruction out, the same
// split of lines, flags and arguments as buildkit's parser (so `stack
// dockerfile parse` and `docker build` agree on what a file says). Pure.
//
// A node's `args` are the words as written, before variable expansion:
// - exec (JSON) form: the array's items, with `json: true`;
// - shell form of RUN, CMD, ENTRYPOINT, SHELL: one string, continuations joined;
// - HEALTHCHECK: the type (`CMD`/`NONE`) then the command as above;
// - ENV, LABEL: triples key, value, separator (`=` or `""` for `ENV k v`);
// - ARG: the words, quotes kept; FROM, EXPOSE, ADD/COPY/VOLUME (shell form):
//   whitespace-separated words; USER, WORKDIR, MAINTAINER, STOPSIGNAL: the rest;
// - ONBUILD: no args, the trigger in `onbuild`.
import { InvalidInputError } from "../../errors.js";
import { suggestName } from "../../schema/did-you-mean.js";
import { DirectiveReader, continuationPattern, type Directives } from "./directives.js";
import { heredocsInLine, type Heredoc } from "./heredoc.js";
import { isGoSpace } from "./substitute.js";

export interface DockerfileNode {
  /** First and last source line (1-based), heredoc bodies and continuations included. */
  line: number;
  endLine: number;
  /** The instruction in lower case (`run`). */
  cmd: string;
  /** Flags as written, quotes removed: `--from=build`. */
  flags: string[];
  args: string[];
  json: boolean;
  heredocs: Heredoc[];
  /** ONBUILD's trigger instruction. */
  onbuild?: DockerfileNode;
  /** The instruction line with continuations joined (comments and heredoc bodies left out). */
  original: string;
}

export interface ParsedDockerfile {
  directives: Directives;
  nodes: DockerfileNode[];
  warnings: string[];
}

export const instructionNames = [
  "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
  "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir",
] as const;
export type InstructionName = (typeof instructionNames)[number];

const known = new Set<string>(instructionNames);
const heredocCommands = new Set(["add", "copy", "run"]);
const whitespace = /[\t\v\f\r ]+/;

/** A parse error at a line; the caller's file name is added by `parseDockerfile`. */
export class DockerfileSyntaxError extends Error {
  constructor(message: string, readonly line: number, readonly hint?: string) {
    super(message);
  }
}

function trimGoSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isGoSpace(s.charCodeAt(a))) a++;
  while (b > a && isGoSpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

function trimLeftGoSpace(s: string): string {
  let a = 0;
  while (a < s.length && isGoSpace(s.charCodeAt(a))) a++;
  return s.slice(a);
}

function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, "");
}

/** Go's regexp.Split(s, 2) on ASCII whitespace. */
function splitOnce(s: string): [string] | [string, string] {
  const m = whitespace.exec(s);
  if (!m) return [s];
  return [s.slice(0, m.index), s.slice(m.index + m[0].length)];
}

/** Leading `--flag[=value]` words (quotes and `\` removed); returns the rest of the line. */
export function extractFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let word = "";
  let phase: "spaces" | "word" | "quote" = "spaces";
  let quote = "";
  let blankOk = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = pos < line.length ? line[pos]! : "";
    if (phase === "spaces") {
      if (pos === line.length) break;
      if (isGoSpace(ch)) continue;
      if (ch !== "-" || pos + 1 === line.length || line[pos + 1] !== "-") return { flags, rest: line.slice(pos) };
      phase = "word";
    }
    if (pos === line.length) {
      if (word !== "--" && (blankOk || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === "word") {
      if (isGoSpace(ch)) {
        phase = "spaces";
        if (word === "--") return { flags, rest: line.slice(pos) };
        if (blankOk || word.length > 0) flags.push(word);
        word = "";
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = "quote";
        continue;
      }
      let c = ch;
      if (c === "\\") {
        if (pos + 1 === line.length) continue;
        c = line[++pos]!;
      }
      word += c;
      continue;
    }
    if (ch === quote) {
      phase = "word";
      continue;
    }
    let c = ch;
    if (c === "\\") {
      if (pos + 1 === line.length) {
        phase = "word";
        continue;
      }
      c = line[++pos]!;
    }
    word += c;
  }
  return { flags, rest: "" };
}

/** Words split on blanks, quotes and escapes kept (for ENV, LABEL, ARG). */
export function splitWordsKeepingQuotes(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  const chars = [...rest];
  let phase: "spaces" | "word" | "quote" = "spaces";
  let word = "";
  let quote = "";
  let blankOk = false;
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = pos < chars.length ? chars[pos]! : "";
    if (phase === "spaces") {
      if (pos === chars.length) break;
      if (isGoSpace(ch)) continue;
      phase = "word";
    }
    if (pos === chars.length) {
      if (blankOk || word.length > 0) words.push(word);
      break;
    }
    if (phase === "word") {
      if (isGoSpace(ch)) {
        phase = "spaces";
        if (blankOk || word.length > 0) words.push(word);
        word = "";
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = "quote";
      }
      if (ch === escapeToken) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        ch = chars[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) phase = "word";
    if (ch === escapeToken && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = "word";
        continue;
      }
      word += ch;
      ch = chars[++pos]!;
    }
    word += ch;
  }
  return words;
}

class NotStringArrayError extends Error {}

/** The end (exclusive) of the JSON value starting with `[` at 0, or -1 when it never closes. */
function jsonArrayEnd(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * Exec form: a JSON array of strings at the start of `rest` (what follows the
 * array is ignored, as Go's JSON decoder does). Undefined when it is not JSON;
 * an array with a non-string item is an error.
 */
function parseJsonArray(rest: string): string[] | undefined {
  const s = trimLeftGoSpace(rest);
  if (!s.startsWith("[")) return undefined;
  const end = jsonArrayEnd(s);
  if (end < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(s.slice(0, end));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === "string")) throw new NotStringArrayError("when using JSON array syntax, arrays must be comprised of strings only");
  return value as string[];
}

type NodeBody = Omit<DockerfileNode, "line" | "endLine" | "onbuild"> & { onbuild?: NodeBody };

interface Parsed {
  args: string[];
  json: boolean;
  onbuild?: NodeBody;
}

function wordsOf(rest: string): string[] {
  return rest === "" ? [] : rest.split(whitespace);
}

function maybeJson(rest: string): Parsed {
  if (rest === "") return { args: [], json: false };
  const j = parseJsonArray(rest);
  return j ? { args: j, json: true } : { args: [rest], json: false };
}

function maybeJsonList(rest: string): Parsed {
  const j = parseJsonArray(rest);
  return j ? { args: j, json: true } : { args: wordsOf(rest), json: false };
}

function nameValues(rest: string, key: string, escapeToken: string): Parsed {
  const words = splitWordsKeepingQuotes(rest, escapeToken);
  if (words.length === 0) return { args: [], json: false };
  if (!words[0]!.includes("=")) {
    const parts = splitOnce(rest);
    if (parts.length < 2) throw new Error(`${key} must have two arguments`);
    return { args: [parts[0], parts[1]!, ""], json: false };
  }
  const args: string[] = [];
  for (const w of words) {
    const i = w.indexOf("=");
    if (i < 0) throw new Error(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    args.push(w.slice(0, i), w.slice(i + 1), "=");
  }
  return { args, json: false };
}

function healthcheck(rest: string): Parsed {
  let sep = 0;
  while (sep < rest.length && !isGoSpace(rest.charCodeAt(sep))) sep++;
  let next = sep;
  while (next < rest.length && isGoSpace(rest.charCodeAt(next))) next++;
  if (sep === 0) return { args: [], json: false };
  const cmd = maybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
}

function parseLine(line: string, d: Directives, trigger = false): NodeBody {
  const parts = splitOnce(trimGoSpace(line));
  const written = parts[0];
  const cmd = written.toLowerCase();
  let flags: string[] = [];
  let rest = "";
  if (parts.length === 2) {
    const f = extractFlags(parts[1]!);
    flags = f.flags;
    rest = trimGoSpace(f.rest);
  }
  let parsed: Parsed;
  switch (cmd) {
    case "add":
    case "copy":
    case "volume":
      parsed = maybeJsonList(rest);
      break;
    case "run":
    case "cmd":
    case "entrypoint":
    case "shell":
      parsed = maybeJson(rest);
      break;
    case "env":
    case "label":
      parsed = nameValues(rest, cmd.toUpperCase(), d.escapeToken);
      break;
    case "arg":
      parsed = { args: splitWordsKeepingQuotes(rest, d.escapeToken), json: false };
      break;
    case "expose":
    case "from":
      parsed = { args: wordsOf(rest), json: false };
      break;
    case "maintainer":
    case "stopsignal":
    case "user":
    case "workdir":
      parsed = { args: rest === "" ? [] : [rest], json: false };
      break;
    case "healthcheck":
      parsed = healthcheck(rest);
      break;
    case "onbuild":
      parsed = rest === "" ? { args: [], json: false } : { args: [], json: false, onbuild: parseLine(rest, d, true) };
      break;
    default:
      // Docker checks an ONBUILD trigger only when an image built FROM this one runs it.
      if (!trigger) throw new UnknownInstruction(written);
      parsed = { args: [""], json: false };
  }
  const node: NodeBody = { cmd, flags, args: parsed.args, json: parsed.json, heredocs: [], original: line };
  if (parsed.onbuild) node.onbuild = parsed.onbuild;
  return node;
}

class UnknownInstruction extends Error {
  constructor(readonly written: string) {
    super(`unknown instruction "${written}"`);
  }
}

/** `(did you mean RUN?)` for a misspelt instruction, or "". */
function suggestion(written: string): string {
  const s = suggestName(written.toLowerCase(), known);
  return s === undefined ? "" : ` (did you mean ${s.toUpperCase()}?)`;
}

/** Parse a Dockerfile's text; errors are InvalidInputError naming `file:line`. */
export function parseDockerfile(text: string, file = "Dockerfile"): ParsedDockerfile {
  try {
    return parseLines(text);
  } catch (e) {
    if (e instanceof DockerfileSyntaxError) {
      throw new InvalidInputError(`${file}:${e.line}: ${e.message}`, { hint: e.hint ?? "see https://docs.docker.com/reference/dockerfile/" });
    }
    throw e;
  }
}

function splitKeepingNewlines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const i = text.indexOf("\n", start);
    if (i < 0) break;
    lines.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

function isComment(raw: string): boolean {
  return trimLeftGoSpace(trimNewline(raw)).startsWith("#");
}

function parseLines(text: string): ParsedDockerfile {
  const lines = splitKeepingNewlines(text.replace(/^\uFEFF/, ""));
  const reader = new DirectiveReader();
  const warnings: string[] = [];
  const nodes: DockerfileNode[] = [];
  let current = 0;
  let continuation = continuationPattern("\\");

  const processLine = (raw: string, stripLeft: boolean): string => {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeftGoSpace(token);
    const wasDone = reader.done;
    const err = reader.observe(token);
    if (err) throw new DockerfileSyntaxError(err, current + 1);
    if (!wasDone) continuation = continuationPattern(reader.directives.escapeToken);
    return token.startsWith("#") ? "" : token;
  };
  const trimContinuation = (s: string): [string, boolean] => {
    if (continuation.test(s)) return [s.replace(continuation, "$1"), false];
    return [s, true];
  };

  while (current < lines.length) {
    const first = processLine(lines[current]!, true);
    current++;
    const startLine = current;
    let [line, ended] = trimContinuation(first);
    if (ended && line === "") continue;
    let emptyContinuation = false;
    while (!ended && current < lines.length) {
      const raw = lines[current]!;
      const processed = processLine(raw, false);
      current++;
      if (isComment(raw)) continue;
      if (trimLeftGoSpace(processed) === "") {
        emptyContinuation = true;
        continue;
      }
      const [part, end] = trimContinuation(processed);
      line += part;
      ended = end;
    }
    if (emptyContinuation) warnings.push(`Dockerfile:${startLine}: empty continuation line (a future Docker release makes this an error)`);

    let parsed: NodeBody;
    try {
      parsed = parseLine(line, reader.directives);
    } catch (e) {
      if (e instanceof UnknownInstruction) {
        throw new DockerfileSyntaxError(`unknown instruction "${e.written}"${suggestion(e.written)}`, startLine, `instructions are ${instructionNames.map((n) => n.toUpperCase()).join(", ")}`);
      }
      throw new DockerfileSyntaxError((e as Error).message, startLine);
    }

    const target = parsed.onbuild ?? parsed;
    if (heredocCommands.has(target.cmd) && !target.json) {
      for (const doc of heredocsInLine(line)) {
        let content = "";
        let terminated = false;
        while (current < lines.length) {
          const raw = lines[current]!;
          current++;
          let candidate = trimNewline(raw);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, "");
          if (candidate === doc.name) {
            terminated = true;
            break;
          }
          content += raw;
        }
        if (!terminated) {
          throw new DockerfileSyntaxError(`unterminated heredoc "${doc.name}" (started at line ${startLine})`, current, `end the heredoc with a line that holds only ${doc.name}`);
        }
        parsed.heredocs.push({ ...doc, content });
      }
    }
    const { onbuild, ...body } = parsed;
    const node: DockerfileNode = { line: startLine, endLine: current, ...body };
    if (onbuild) {
      const { onbuild: nested, ...trigger } = onbuild;
      node.onbuild = { line: startLine, endLine: current, ...trigger };
      if (nested) node.onbuild.onbuild = { line: startLine, endLine: current, ...nested } as DockerfileNode;
    }
    nodes.push(node);
  }
  if (nodes.length === 0) throw new DockerfileSyntaxError("file with no instructions", Math.max(current, 1), "a Dockerfile needs at least a FROM instruction");
  return { directives: reader.directives, nodes, warnings };
}
