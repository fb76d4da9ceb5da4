// `RUN --mount=…` values parsed (pure): type=bind (default), cache, tmpfs,
// secret. What each becomes on the host is decided by the RUN executor.
import { InvalidInputError, UnsupportedError } from "../../errors.js";

export type RunMount =
  | { type: "bind"; target: string; source: string; from?: string; readWrite: boolean }
  | { type: "cache"; target: string; id: string; from?: string; source?: string; mode: number; uid: number; gid: number; readOnly: boolean }
  | { type: "tmpfs"; target: string; size?: number }
  | { type: "secret"; target: string; id: string; required: boolean; mode: number; uid: number; gid: number };

export function parseRunMount(value: string, where: string): RunMount {
  const fields = new Map<string, string>();
  for (const raw of value.split(",")) {
    const f = raw.trim();
    if (f === "") continue;
    const i = f.indexOf("=");
    const key = (i < 0 ? f : f.slice(0, i)).toLowerCase();
    fields.set(key, i < 0 ? "true" : f.slice(i + 1));
  }
  const bad = (why: string) => new InvalidInputError(`${where}: --mount=${value}: ${why}`, { hint: "see https://docs.docker.com/reference/dockerfile/#run---mount" });
  const type = fields.get("type") ?? "bind";
  const target = fields.get("target") ?? fields.get("dst") ?? fields.get("destination");
  const flag = (k: string) => fields.has(k) && fields.get(k)!.toLowerCase() !== "false";
  const num = (k: string, d: number, radix = 10) => {
    const v = fields.get(k);
    if (v === undefined) return d;
    const n = parseInt(v, radix);
    if (!Number.isInteger(n) || n < 0) throw bad(`${k}=${v} is not a valid number`);
    return n;
  };
  const source = fields.get("source") ?? fields.get("src");
  switch (type) {
    case "bind":
      if (!target) throw bad("a bind mount needs target=");
      return { type, target, source: source ?? "/", ...(fields.has("from") ? { from: fields.get("from")! } : {}), readWrite: flag("rw") || flag("readwrite") };
    case "cache":
      if (!target) throw bad("a cache mount needs target=");
      return { type, target, id: fields.get("id") ?? target, ...(fields.has("from") ? { from: fields.get("from")! } : {}), ...(source ? { source } : {}), mode: num("mode", 0o755, 8), uid: num("uid", 0), gid: num("gid", 0), readOnly: flag("ro") || flag("readonly") };
    case "tmpfs": {
      if (!target) throw bad("a tmpfs mount needs target=");
      const size = fields.get("size");
      return { type, target, ...(size !== undefined ? { size: num("size", 0) } : {}) };
    }
    case "secret": {
      const id = fields.get("id") ?? (target ? target.split("/").pop()! : undefined);
      if (!id) throw bad("a secret mount needs id= or target=");
      return { type, id, target: target ?? `/run/secrets/${id}`, required: flag("required"), mode: num("mode", 0o400, 8), uid: num("uid", 0), gid: num("gid", 0) };
    }
    case "ssh":
      throw new UnsupportedError(`${where}: --mount=type=ssh is not supported`, { hint: "copy a deploy key with a secret mount instead" });
    default:
      throw bad(`unknown mount type ${JSON.stringify(type)}`);
  }
}
