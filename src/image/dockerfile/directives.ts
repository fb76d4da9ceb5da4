// Parser directives: `# syntax=…`, `# escape=…` (and `# check=…`), read only
// from the comment lines at the very top of a Dockerfile. The first line that
// is not a directive (an instruction, another comment, a blank line) ends them.

export interface Directives {
  /** The escape token: `\` (default) or a backtick. */
  escapeToken: string;
  syntax?: string;
  check?: string;
}

const directivePattern = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const known = new Set(["escape", "syntax", "check"]);

/** Tracks directives while the parser reads lines; `observe` each line until `done`. */
export class DirectiveReader {
  done = false;
  readonly directives: Directives = { escapeToken: "\\" };
  private readonly seen = new Set<string>();

  /** Returns an error message for a bad directive, else undefined. */
  observe(line: string): string | undefined {
    if (this.done) return undefined;
    const m = directivePattern.exec(line);
    const key = m?.[1]?.toLowerCase();
    if (!m || key === undefined || !known.has(key)) {
      this.done = true;
      return undefined;
    }
    if (this.seen.has(key)) return `only one ${key} parser directive can be used`;
    this.seen.add(key);
    const value = m[2]!;
    if (key === "escape") {
      if (value !== "`" && value !== "\\") return `invalid escape token '${value}' does not match \` or \\`;
      this.directives.escapeToken = value;
    } else if (key === "syntax") this.directives.syntax = value;
    else this.directives.check = value;
    return undefined;
  }
}

/** The line-continuation matcher for an escape token: the token as the last non-blank character, not itself escaped. */
export function continuationPattern(escapeToken: string): RegExp {
  const e = escapeToken === "\\" ? "\\\\" : "`";
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}
