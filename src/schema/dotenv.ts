// The dotenv format of `.env`, `--env-file` and `env_file:`, as compose reads
// it: `KEY=value` lines, an optional `export ` prefix, `#` comments (a whole
// line, or after whitespace in an unquoted value), single quotes (literal,
// may span lines), double quotes (escapes \n \r \t \\ \" \$, may span lines),
// and variable substitution in unquoted and double-quoted values. A bare
// `KEY` takes its value from the lookup, or is left out when that has none.
import { InvalidInputError } from "../errors.js";
import { substituteVariables, type Lookup } from "./interpolate.js";

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Parses dotenv text. `lookup` resolves variables used in values and bare
 * keys; a variable defined earlier in the same file is used when the lookup
 * has none. Errors name `file:line`.
 */
export function parseDotenv(text: string, file: string, lookup: Lookup): Record<string, string> {
  const out: Record<string, string> = {};
  const resolve: Lookup = (name) => lookup(name) ?? (Object.hasOwn(out, name) ? out[name] : undefined);
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const fail = (message: string, hint: string): never => {
      throw new InvalidInputError(`${file}:${lineNo}: ${message}`, { hint });
    };
    let line = lines[i]!.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    if (/^export\s/.test(line)) line = line.slice(6).replace(/^\s+/, "");
    const eq = line.indexOf("=");
    if (eq < 0) {
      const key = line.replace(/\s+#.*$/, "").trim();
      if (!KEY.test(key)) fail(`invalid line ${JSON.stringify(lines[i])}`, "write KEY=VALUE, one per line");
      const inherited = lookup(key);
      if (inherited !== undefined) out[key] = inherited;
      continue;
    }
    const key = line.slice(0, eq).trim();
    if (!KEY.test(key)) fail(`invalid variable name ${JSON.stringify(key)}`, "names are letters, digits, `_`, `.` and `-`, not starting with a digit");
    let rest = line.slice(eq + 1).replace(/^[ \t]+/, "");
    const quote = rest[0];
    if (quote !== "'" && quote !== '"') {
      const value = rest.replace(/(^|\s+)#.*$/, "").trimEnd();
      out[key] = substitute(value, resolve, file, lineNo);
      continue;
    }
    // A quoted value ends at the next unescaped quote, perhaps lines later.
    let body = "";
    let j = i;
    rest = rest.slice(1);
    for (;;) {
      const end = closingQuote(rest, quote);
      if (end >= 0) {
        body += rest.slice(0, end);
        const after = rest.slice(end + 1).trim();
        if (after !== "" && !after.startsWith("#")) {
          fail(`unexpected ${JSON.stringify(after)} after the quoted value of ${key}`, "put a comment after `#`, or quote the whole value");
        }
        break;
      }
      body += rest + "\n";
      j++;
      if (j >= lines.length) fail(`the quoted value of ${key} is not terminated`, `close it with ${quote}`);
      rest = lines[j]!;
    }
    i = j;
    out[key] = quote === "'" ? body : substitute(unescapeDoubleQuoted(body), resolve, file, lineNo);
  }
  return out;
}

function closingQuote(text: string, quote: string): number {
  for (let k = 0; k < text.length; k++) {
    if (text[k] === "\\" && quote === '"') {
      k++;
      continue;
    }
    if (text[k] === quote) return k;
  }
  return -1;
}

// `\$` becomes `$$` so that substitution leaves a literal dollar.
function unescapeDoubleQuoted(body: string): string {
  return body.replace(/\\(.)/gs, (whole, c: string) => {
    switch (c) {
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "\\":
        return "\\";
      case '"':
        return '"';
      case "$":
        return "$$";
      default:
        return whole;
    }
  });
}

function substitute(value: string, lookup: Lookup, file: string, line: number): string {
  try {
    return substituteVariables(value, lookup).value;
  } catch (e) {
    const err = e as InvalidInputError;
    throw new InvalidInputError(`${file}:${line}: ${err.message}`, { hint: err.hint, cause: e });
  }
}
