// Variable substitution and word splitting with the Dockerfile shell rules
// (buildkit's shell lexer): `$x`, `${x}`, `${x:-y}`, `${x-y}`, `${x:+y}`,
// `${x+y}`, `${x?e}`, `${x:?e}`, `${x#p}`, `${x##p}`, `${x%p}`, `${x%%p}`,
// `${x/p/r}`, `${x//p/r}`; single quotes are literal, double quotes expand `$`
// and honour the escape token before `"`, `$` and itself.
//
// Options mirror the lexer's switches: rawQuotes keeps the quote characters,
// rawEscapes keeps the escape characters, skipUnsetEnv leaves references to
// unset variables as written (used to find heredoc names).

export interface LexOptions {
  escapeToken?: string;
  rawQuotes?: boolean;
  rawEscapes?: boolean;
  skipUnsetEnv?: boolean;
  skipProcessQuotes?: boolean;
}

/** A variable map: what ARG/ENV have defined so far. */
export type Env = ReadonlyMap<string, string>;

/** A substitution failed; the message has no location, callers add it. */
export class SubstitutionError extends Error {}

const EOF = -1;

/** Go's unicode.IsSpace. */
export function isGoSpace(ch: string | number): boolean {
  const c = typeof ch === "number" ? ch : ch.codePointAt(0)!;
  if (c <= 0xff) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

class Words {
  word = "";
  words: string[] = [];
  inWord = false;
  addChar(ch: string): void {
    if (isGoSpace(ch)) {
      if (this.inWord && this.word.length > 0) {
        this.words.push(this.word);
        this.word = "";
        this.inWord = false;
      }
    } else {
      this.addRaw(ch);
    }
  }
  addRaw(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = "";
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  private readonly escape: string;

  constructor(source: string, private readonly env: Env, private readonly opts: LexOptions) {
    this.chars = [...source];
    this.rawEscapes = opts.rawEscapes ?? false;
    this.escape = opts.escapeToken ?? "\\";
  }

  private peek(): string | typeof EOF {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }
  private next(): string | typeof EOF {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }

  processStopOn(stop: string | typeof EOF, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = "";
      const words = new Words();
      while (this.peek() !== EOF) {
        let ch = this.peek() as string;
        if (stop !== EOF && ch === stop) {
          this.next();
          return { result, words: words.finish() };
        }
        if (ch === "$") {
          const v = this.processDollar();
          result += v;
          words.addString(v);
        } else if (!this.opts.skipProcessQuotes && (ch === "'" || ch === '"')) {
          const v = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += v;
          words.addRaw(v);
        } else {
          ch = this.next() as string;
          if (ch === this.escape) {
            if (this.rawEscapes) {
              words.addRaw(ch);
              result += ch;
            }
            const n = this.next();
            if (n === EOF) break;
            ch = n;
            words.addRaw(ch);
          } else {
            words.addChar(ch);
          }
          result += ch;
        }
      }
      if (stop !== EOF) throw new SubstitutionError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    let result = "";
    const open = this.next() as string;
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new SubstitutionError("unexpected end of statement while looking for matching single-quote");
      if (ch === "'") {
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    let result = "";
    const open = this.next() as string;
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new SubstitutionError("unexpected end of statement while looking for matching double-quote");
      if (p === '"') {
        this.next();
        if (this.opts.rawQuotes) result += p;
        return result;
      }
      if (p === "$") {
        result += this.processDollar();
        continue;
      }
      let ch = this.next() as string;
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const q = this.peek();
        if (q === EOF) continue;
        if (q === '"' || q === "$" || q === this.escape) ch = this.next() as string;
      }
      result += ch;
    }
  }

  private lookup(name: string): string | undefined {
    return this.env.get(name);
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== "{") {
      const name = this.processName();
      if (name === "") return "$";
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return "$" + name;
      return value ?? "";
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new SubstitutionError("syntax error: missing '}'");
    if (first === "{" || first === "}" || first === ":") throw new SubstitutionError("syntax error: bad substitution");
    const name = this.processName();
    let ch = this.next();
    if (ch === EOF) throw new SubstitutionError("syntax error: missing '}'");
    let chs: string = ch;
    let nullIsUnset = false;
    if (ch === "}") {
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}}`;
      return value ?? "";
    }
    if (ch === ":") {
      nullIsUnset = true;
      ch = this.next();
      chs += ch === EOF ? "" : ch;
    }
    if (ch === ":" || ch === "+" || ch === "-" || ch === "?" || ch === "#" || ch === "%" || nullIsUnset) {
      const trim = ch === "#" || ch === "%";
      let word: string;
      try {
        word = this.processStopOn("}", trim).result;
      } catch (e) {
        if (this.peek() === EOF) throw new SubstitutionError("syntax error: missing '}'");
        throw e;
      }
      const value = this.lookup(name);
      if (this.opts.skipUnsetEnv && value === undefined) return `\${${name}${chs}${word}}`;
      const empty = value === undefined || (nullIsUnset && value === "");
      switch (ch) {
        case "-":
          return empty ? word : value!;
        case "+":
          return empty ? "" : word;
        case "?":
          if (value === undefined) throw new SubstitutionError(`${name}: ${word || "is not allowed to be unset"}`);
          if (nullIsUnset && value === "") throw new SubstitutionError(`${name}: ${word || "is not allowed to be empty"}`);
          return value;
        case "#":
        case "%": {
          let pattern = word;
          const greedy = pattern.startsWith(ch);
          if (greedy) pattern = pattern.slice(1);
          return trimByPattern(value ?? "", pattern, ch === "#" ? "prefix" : "suffix", greedy);
        }
        default:
          throw new SubstitutionError(`unsupported modifier (${chs}) in substitution`);
      }
    }
    if (ch === "/") {
      const all = this.peek() === "/";
      if (all) this.next();
      let pattern: string;
      let replacement: string;
      try {
        pattern = this.processStopOn("/", true).result;
      } catch (e) {
        if (this.peek() === EOF) throw new SubstitutionError("syntax error: missing '/' in ${}");
        throw e;
      }
      try {
        replacement = this.processStopOn("}", true).result;
      } catch (e) {
        if (this.peek() === EOF) throw new SubstitutionError("syntax error: missing '}'");
        throw e;
      }
      const value = this.lookup(name);
      if (this.opts.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${replacement}}`;
      const re = patternToRegExp(pattern, true);
      const v = value ?? "";
      if (all) return v.replace(new RegExp(re.source, "gs"), () => replacement);
      return v.replace(re, () => replacement);
    }
    throw new SubstitutionError(`unsupported modifier (${chs}) in substitution`);
  }

  private processName(): string {
    let name = "";
    while (this.peek() !== EOF) {
      const ch = this.peek() as string;
      if (name === "" && /\p{Nd}/u.test(ch)) {
        while (this.peek() !== EOF && /\p{Nd}/u.test(this.peek() as string)) name += this.next();
        return name;
      }
      if (name === "" && "@*#?-$!0".includes(ch)) return this.next() as string;
      if (!/[\p{L}\p{Nd}_]/u.test(ch)) break;
      name += this.next();
    }
    return name;
  }
}

/** A shell wildcard pattern (`*`, `?`, `\` escapes; no brackets) as a regular expression. */
function patternToRegExp(pattern: string, greedy: boolean): RegExp {
  let out = "";
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === "*") out += greedy ? ".*" : ".*?";
    else if (c === "?") out += ".";
    else if (c === "\\") {
      const n = chars[i + 1];
      if (n === "}" || n === "/") continue;
      if (n !== "*" && n !== "?" && n !== "\\") throw new SubstitutionError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ""}'`);
      out += "\\" + n;
      i++;
    } else out += c.replace(/[[\]{}.+()|^$]/, "\\$&");
  }
  return new RegExp(out, "s");
}

function trimByPattern(value: string, pattern: string, side: "prefix" | "suffix", longest: boolean): string {
  const re = new RegExp(`^(?:${patternToRegExp(pattern, true).source})$`, "s");
  const n = value.length;
  if (side === "prefix") {
    for (let k = 0; k <= n; k++) {
      const len = longest ? n - k : k;
      if (re.test(value.slice(0, len))) return value.slice(len);
    }
  } else {
    for (let k = 0; k <= n; k++) {
      const len = longest ? n - k : k;
      if (re.test(value.slice(n - len))) return value.slice(0, n - len);
    }
  }
  return value;
}

/** Expand variables and remove quotes; the result is one string (ProcessWord). */
export function processWord(word: string, env: Env, options: LexOptions = {}): string {
  return new ShellWord(word, env, options).processStopOn(EOF, options.rawEscapes ?? false).result;
}

/** Expand variables, remove quotes and split on unquoted whitespace (ProcessWords). */
export function processWords(word: string, env: Env, options: LexOptions = {}): string[] {
  return new ShellWord(word, env, options).processStopOn(EOF, options.rawEscapes ?? false).words;
}
