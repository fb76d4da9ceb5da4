// Service mounts: short syntax `SOURCE:TARGET[:OPTIONS]` / `TARGET` and the
// long syntax → ServiceVolumeModel. A source that starts with `.`, `/` or `~`
// is a host path (bind); any other source names a top-level volume.
import type { ServiceVolumeModel } from "../model.js";
import type { PathSegment } from "../source.js";
import { fail, hostPath, type NormalizeContext } from "./context.js";
import { readers } from "./units.js";

const propagations = new Set(["shared", "rshared", "slave", "rslave", "private", "rprivate"]);
const consistencies = new Set(["consistent", "cached", "delegated"]);
const mountOptions = new Set(["ro", "rw", "z", "Z", "nocopy", ...propagations, ...consistencies]);

function isHostPath(source: string): boolean {
  return source.startsWith(".") || source.startsWith("/") || source.startsWith("~");
}

const shortForm = "expected SOURCE:TARGET[:MODE] or TARGET, TARGET an absolute path in the container";

/** What is wrong with a short-syntax mount, or undefined (also used by validation, which reports every problem of a file). */
export function shortVolumeProblem(s: string): { message: string; hint: string } | undefined {
  const parts = s.split(":");
  if (s === "" || parts.length > 3 || parts.some((p) => p === "")) return { message: `${JSON.stringify(s)} is not a volume`, hint: shortForm };
  const target = parts.length === 1 ? parts[0]! : parts[1]!;
  if (!target.startsWith("/")) return { message: `${JSON.stringify(s)} has a relative container path "${target}"`, hint: shortForm };
  for (const opt of parts.length === 3 ? parts[2]!.split(",") : []) {
    if (!mountOptions.has(opt)) {
      return { message: `${JSON.stringify(s)} has an unknown mount option "${opt}"`, hint: "expected ro, rw, z, Z, nocopy or a propagation (rshared, rslave, rprivate …)" };
    }
  }
  return undefined;
}

function parseShort(ctx: NormalizeContext, path: PathSegment[], s: string): ServiceVolumeModel {
  const problem = shortVolumeProblem(s);
  if (problem) fail(ctx, path, problem.message, problem.hint);
  const parts = s.split(":");
  if (parts.length === 1) return { type: "volume", target: s, read_only: false, volume: { nocopy: false } };
  const [source, target, mode = ""] = parts as [string, string, string?];
  let readOnly = false;
  let nocopy = false;
  let selinux: "z" | "Z" | undefined;
  let propagation: string | undefined;
  let consistency: string | undefined;
  for (const opt of mode === "" ? [] : mode.split(",")) {
    if (opt === "ro") readOnly = true;
    else if (opt === "rw") readOnly = false;
    else if (opt === "z" || opt === "Z") selinux = opt;
    else if (opt === "nocopy") nocopy = true;
    else if (propagations.has(opt)) propagation = opt;
    else if (consistencies.has(opt)) consistency = opt;
  }
  if (isHostPath(source)) {
    const bind: { propagation?: string; create_host_path: boolean; selinux?: "z" | "Z" } = { create_host_path: true };
    if (propagation) bind.propagation = propagation;
    if (selinux) bind.selinux = selinux;
    const out: ServiceVolumeModel = { type: "bind", source: hostPath(ctx, source), target, read_only: readOnly, bind };
    if (consistency) out.consistency = consistency;
    return out;
  }
  const out: ServiceVolumeModel = { type: "volume", source, target, read_only: readOnly, volume: { nocopy } };
  if (consistency) out.consistency = consistency;
  return out;
}

function parseLong(ctx: NormalizeContext, path: PathSegment[], o: Record<string, unknown>): ServiceVolumeModel {
  const r = readers(ctx);
  const target = String(o.target ?? "");
  const readOnly = r.bool([...path, "read_only"], o.read_only) ?? false;
  const source = o.source === undefined || o.source === null ? undefined : String(o.source);
  const sub = (k: string) => (o[k] ?? {}) as Record<string, unknown>;
  if (target === "" && o.type !== "npipe") fail(ctx, [...path, "target"], `a ${String(o.type)} mount needs a target`, "add target: /path/in/container");
  switch (o.type) {
    case "bind": {
      if (!source) fail(ctx, [...path, "source"], "a bind mount needs a source", "add source: ./path/on/host");
      const b = sub("bind");
      const bind: { propagation?: string; create_host_path: boolean; selinux?: "z" | "Z" } = { create_host_path: r.bool([...path, "bind", "create_host_path"], b.create_host_path) ?? false };
      if (typeof b.propagation === "string") bind.propagation = b.propagation;
      if (b.selinux === "z" || b.selinux === "Z") bind.selinux = b.selinux;
      const out: ServiceVolumeModel = { type: "bind", source: hostPath(ctx, source), target, read_only: readOnly, bind };
      if (typeof o.consistency === "string") out.consistency = o.consistency;
      return out;
    }
    case "volume": {
      const v = sub("volume");
      const volume: { nocopy: boolean; subpath?: string } = { nocopy: r.bool([...path, "volume", "nocopy"], v.nocopy) ?? false };
      if (typeof v.subpath === "string") volume.subpath = v.subpath;
      const out: ServiceVolumeModel = { type: "volume", target, read_only: readOnly, volume };
      if (source) out.source = source;
      if (typeof o.consistency === "string") out.consistency = o.consistency;
      return out;
    }
    case "tmpfs": {
      const t = sub("tmpfs");
      const tmpfs: { size?: number; mode?: number } = {};
      const size = r.bytes([...path, "tmpfs", "size"], t.size);
      if (size !== undefined) tmpfs.size = size;
      const mode = r.fileMode([...path, "tmpfs", "mode"], t.mode);
      if (mode !== undefined) tmpfs.mode = mode;
      return { type: "tmpfs", target, read_only: readOnly, tmpfs };
    }
    case "image": {
      if (!source) fail(ctx, [...path, "source"], "an image mount needs a source", "add source: IMAGE");
      const i = sub("image");
      return { type: "image", source, target, read_only: readOnly, image: typeof i.subpath === "string" ? { subpath: i.subpath } : {} };
    }
    case "npipe":
    case "cluster":
      return { type: o.type, ...(source ? { source } : {}), target, read_only: readOnly };
    default:
      return fail(ctx, [...path, "type"], `${JSON.stringify(o.type)} is not a mount type`, "expected bind, volume, tmpfs or image");
  }
}

export function normalizeServiceVolumes(ctx: NormalizeContext, path: PathSegment[], value: unknown): ServiceVolumeModel[] {
  if (!Array.isArray(value)) return [];
  return value.map((v, i) => (typeof v === "string" ? parseShort(ctx, [...path, i], v) : parseLong(ctx, [...path, i], (v ?? {}) as Record<string, unknown>)));
}
