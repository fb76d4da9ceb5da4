// Published ports: every short form → PortModel, one entry per container port.
//   80 | "80" | "8080:80" | "8080:80/udp" | "127.0.0.1:8080:80" | "127.0.0.1::80"
//   "[::1]:8080:80" | "8000-8010:8000-8010" (one entry per pair) | "9000-9010:80" (host range kept as written)
import type { PortModel } from "../model.js";
import type { PathSegment } from "../source.js";
import { fail, type NormalizeContext } from "./context.js";
import { isUninterpolated, uninterpolatedWarning } from "./units.js";

type Protocol = PortModel["protocol"];

function parseRange(s: string): [number, number] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return b >= a ? [a, b] : undefined;
}

function expand(ctx: NormalizeContext, path: PathSegment[], written: unknown, target: string, published: string | undefined, base: Omit<PortModel, "target" | "published">): PortModel[] {
  if (isUninterpolated(target)) {
    ctx.warnings.push(uninterpolatedWarning(path, typeof written === "string" ? written : JSON.stringify(written)));
    return [];
  }
  if (isUninterpolated(published)) return [{ ...base, target: Number(target), published }]; // kept as written
  const t = parseRange(target);
  const p = published === undefined || published === "" ? undefined : parseRange(published);
  if (!t || (published && !p)) fail(ctx, path, `${JSON.stringify(written)} is not a port mapping`, "expected [HOST:]CONTAINER[/PROTOCOL]");
  const count = t[1] - t[0] + 1;
  const out: PortModel[] = [];
  for (let i = 0; i < count; i++) {
    let pub: string | undefined;
    if (p) {
      const hostCount = p[1] - p[0] + 1;
      if (hostCount === count && count > 1) pub = String(p[0] + i);
      else if (count === 1) pub = published;
      else fail(ctx, path, `${JSON.stringify(written)} maps ranges of different lengths`, "the host and container ranges must have the same number of ports");
    }
    const port: PortModel = { target: t[0] + i, protocol: base.protocol, mode: base.mode };
    if (pub !== undefined) port.published = pub;
    if (base.host_ip !== undefined) port.host_ip = base.host_ip;
    if (base.name !== undefined) port.name = base.name;
    if (base.app_protocol !== undefined) port.app_protocol = base.app_protocol;
    out.push(port);
  }
  return out;
}

function protocolOf(ctx: NormalizeContext, path: PathSegment[], written: unknown, s: string | undefined): Protocol {
  const p = (s ?? "tcp").toLowerCase();
  if (p !== "tcp" && p !== "udp" && p !== "sctp") fail(ctx, path, `${JSON.stringify(written)} has an unknown protocol "${s}"`, "expected tcp, udp or sctp");
  return p;
}

/** One `ports` entry (short or long) → its PortModels. */
export function normalizePort(ctx: NormalizeContext, path: PathSegment[], value: unknown): PortModel[] {
  if (typeof value === "number") return expand(ctx, path, value, String(value), undefined, { protocol: "tcp", mode: "ingress" });
  if (typeof value === "string") {
    const slash = value.lastIndexOf("/");
    const protocol = protocolOf(ctx, path, value, slash >= 0 ? value.slice(slash + 1) : undefined);
    const spec = slash >= 0 ? value.slice(0, slash) : value;
    const lastColon = spec.lastIndexOf(":");
    if (lastColon < 0) return expand(ctx, path, value, spec, undefined, { protocol, mode: "ingress" });
    const target = spec.slice(lastColon + 1);
    const rest = spec.slice(0, lastColon);
    const hostColon = rest.lastIndexOf(":");
    const published = hostColon < 0 ? rest : rest.slice(hostColon + 1);
    let hostIp = hostColon < 0 ? undefined : rest.slice(0, hostColon);
    if (hostIp !== undefined && hostIp.startsWith("[") && hostIp.endsWith("]")) hostIp = hostIp.slice(1, -1);
    if (hostIp === "") fail(ctx, path, `${JSON.stringify(value)} has an empty host address`, "expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT");
    return expand(ctx, path, value, target, published, { protocol, mode: "ingress", ...(hostIp !== undefined ? { host_ip: hostIp } : {}) });
  }
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    const base: Omit<PortModel, "target" | "published"> = {
      protocol: protocolOf(ctx, path, value, o.protocol === undefined ? undefined : String(o.protocol)),
      mode: o.mode === "host" ? "host" : "ingress",
    };
    if (typeof o.host_ip === "string") base.host_ip = o.host_ip.replace(/^\[(.*)\]$/, "$1");
    if (typeof o.name === "string") base.name = o.name;
    if (typeof o.app_protocol === "string") base.app_protocol = o.app_protocol;
    const published = o.published === undefined || o.published === null ? undefined : String(o.published);
    return expand(ctx, path, value, String(o.target), published, base);
  }
  return fail(ctx, path, `${JSON.stringify(value)} is not a port mapping`, "expected [HOST:]CONTAINER[/PROTOCOL]");
}

export function normalizePorts(ctx: NormalizeContext, path: PathSegment[], value: unknown): PortModel[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v, i) => normalizePort(ctx, [...path, i], v));
}
