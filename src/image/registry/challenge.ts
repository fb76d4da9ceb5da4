// The `WWW-Authenticate` header of a registry's 401 answer (RFC 7235): which
// scheme the registry wants and, for Bearer, where to get a token
// (`realm`), for which `service`, and sometimes the `scope` it lacked.
// Pure: a header string in, challenges out.

export interface Challenge {
  /** Lower case: "basic", "bearer". */
  scheme: string;
  /** Parameter names lower case, values unquoted: realm, service, scope, error. */
  params: Record<string, string>;
}

/** All challenges of one header value, in order; an unparsable header gives []. */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipSpace = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    skipSpace();
    if (s[i] === ",") {
      i++;
      continue;
    }
    const name = token();
    if (name === "") {
      i++; // junk: skip one character
      continue;
    }
    skipSpace();
    if (s[i] === "=" && current) {
      i++;
      skipSpace();
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++; // closing quote
      } else {
        const vStart = i;
        while (i < s.length && s[i] !== "," && s[i] !== " ") i++;
        value = s.slice(vStart, i);
      }
      current.params[name.toLowerCase()] = value;
    } else if (s[i] === "=" && !current) {
      // a parameter before any scheme: not a challenge; skip it
      while (i < s.length && s[i] !== ",") i++;
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}
