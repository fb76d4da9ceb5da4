// `stack image import --change 'CMD ["sh"]'`: the Dockerfile instructions
// that `docker import` accepts, applied to an image config. Pure.
import { InvalidInputError } from "../../errors.js";
import type { OciImageConfig } from "./oci-types.js";

const SUPPORTED = ["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"];

function bad(change: string, why: string): InvalidInputError {
  return new InvalidInputError(`invalid --change ${JSON.stringify(change)}: ${why}`, {
    hint: `use one of ${SUPPORTED.join(", ")} as in a Dockerfile, e.g. --change 'CMD ["sh"]' or --change 'ENV PATH=/bin'`,
  });
}

/** A JSON string array (exec form) or, failing that, text run by `/bin/sh -c` (shell form). */
function commandOf(change: string, text: string): string[] {
  if (text.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === "string")) return parsed;
    } catch {
      // not JSON: Docker then treats it as shell form
    }
  }
  if (text === "") throw bad(change, "the command is empty");
  return ["/bin/sh", "-c", text];
}

function unquote(s: string): string {
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) return s.slice(1, -1);
  return s;
}

/** Splits `a=1 b="two words"` into pairs; `KEY value` (legacy form) is one pair. */
function pairsOf(change: string, text: string): Array<[string, string]> {
  const tokens = text.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  if (tokens.length === 0) throw bad(change, "it names no key");
  if (!tokens[0]!.includes("=")) {
    const [key, ...rest] = text.split(/\s+/);
    return [[key!, unquote(rest.join(" "))]];
  }
  return tokens.map((t) => {
    const eq = t.indexOf("=");
    if (eq <= 0) throw bad(change, `${JSON.stringify(t)} is not KEY=VALUE`);
    return [t.slice(0, eq), unquote(t.slice(eq + 1))];
  });
}

export function applyChanges(config: OciImageConfig, changes: string[]): OciImageConfig {
  const out: OciImageConfig = structuredClone(config);
  for (const change of changes) {
    const m = /^\s*(\w+)\s*(.*?)\s*$/s.exec(change);
    if (!m) throw bad(change, "it is empty");
    const instruction = m[1]!.toUpperCase();
    const text = m[2]!;
    switch (instruction) {
      case "CMD":
        out.Cmd = commandOf(change, text);
        break;
      case "ENTRYPOINT":
        out.Entrypoint = commandOf(change, text);
        break;
      case "ENV": {
        const env = [...(out.Env ?? [])];
        for (const [k, v] of pairsOf(change, text)) {
          const i = env.findIndex((e) => e.split("=")[0] === k);
          if (i === -1) env.push(`${k}=${v}`);
          else env[i] = `${k}=${v}`;
        }
        out.Env = env;
        break;
      }
      case "LABEL":
        out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(pairsOf(change, text)) };
        break;
      case "EXPOSE": {
        if (text === "") throw bad(change, "it names no port");
        const ports = { ...(out.ExposedPorts ?? {}) };
        for (const p of text.split(/\s+/)) {
          if (!/^\d{1,5}(\/(tcp|udp|sctp))?$/.test(p)) throw bad(change, `${JSON.stringify(p)} is not PORT[/PROTOCOL]`);
          ports[p.includes("/") ? p : `${p}/tcp`] = {};
        }
        out.ExposedPorts = ports;
        break;
      }
      case "VOLUME": {
        const paths = text.startsWith("[") ? commandOf(change, text) : text.split(/\s+/).filter(Boolean);
        if (paths.length === 0 || paths[0] === "/bin/sh") throw bad(change, "it names no path");
        out.Volumes = { ...(out.Volumes ?? {}), ...Object.fromEntries(paths.map((p) => [p, {}])) };
        break;
      }
      case "WORKDIR":
        if (text === "") throw bad(change, "it names no directory");
        out.WorkingDir = text;
        break;
      case "USER":
        if (text === "") throw bad(change, "it names no user");
        out.User = text;
        break;
      case "STOPSIGNAL":
        if (text === "") throw bad(change, "it names no signal");
        out.StopSignal = text;
        break;
      default:
        throw bad(change, `${JSON.stringify(instruction)} cannot be applied to an imported image`);
    }
  }
  return out;
}
