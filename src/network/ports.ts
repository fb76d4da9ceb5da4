// Published ports: from the model's `ports` entries to concrete host
// mappings, and the lookups `stack port` and conflict messages need. Pure;
// which ports are free is asked of the host by the manager.
import { InvalidInputError, UnsupportedError } from "../errors.js";
import type { PortModel } from "../schema/model.js";

/** A port of a container reachable on the host. hostIp "" means every address (0.0.0.0). */
export interface PublishedPort {
  service: string;
  container: string;
  hostIp: string;
  hostPort: number;
  protocol: "tcp" | "udp";
  target: number;
  containerAddress: string;
}

/** What a `ports` entry asks for: one host port of `candidates` (undefined = any free port). */
export interface PortRequest {
  hostIp: string;
  candidates?: number[];
  protocol: "tcp" | "udp";
  target: number;
}

function parseRange(text: string, path: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m?.[2] !== undefined ? Number(m[2]) : first;
  if (!m || first < 1 || last > 65535 || last < first) {
    throw new InvalidInputError(`${path}.published: ${JSON.stringify(text)} is not a port or port range`, { hint: 'write "8080" or "8000-8010" (1–65535)' });
  }
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/**
 * One request per entry. A published range as long as the run of entries
 * that share it maps one to one ("8000-8001:80-81"); otherwise each entry may
 * take any free port of the range.
 */
export function planPortRequests(ports: PortModel[], path: string): PortRequest[] {
  const runs = new Map<string, number>();
  for (const p of ports) if (p.published?.includes("-")) runs.set(`${p.host_ip ?? ""}|${p.protocol}|${p.published}`, (runs.get(`${p.host_ip ?? ""}|${p.protocol}|${p.published}`) ?? 0) + 1);
  const seen = new Map<string, number>();
  return ports.map((p, i) => {
    const at = `${path}.ports[${i}]`;
    if (p.protocol === "sctp") throw new UnsupportedError(`${at}.protocol: "sctp" is not supported by stack`, { hint: "publish the port as tcp or udp" });
    const hostIp = p.host_ip === undefined || p.host_ip === "0.0.0.0" ? "" : p.host_ip;
    if (hostIp.includes(":") || hostIp === "::") {
      throw new UnsupportedError(`${at}.host_ip: ${JSON.stringify(p.host_ip)} is IPv6; stack publishes ports on IPv4 only`, { hint: "use an IPv4 host address or leave host_ip out" });
    }
    if (p.published === undefined || p.published === "") return { hostIp, protocol: p.protocol, target: p.target };
    const range = parseRange(p.published, at);
    const key = `${p.host_ip ?? ""}|${p.protocol}|${p.published}`;
    if (range.length > 1 && runs.get(key) === range.length) {
      const n = seen.get(key) ?? 0;
      seen.set(key, n + 1);
      return { hostIp, candidates: [range[n]!], protocol: p.protocol, target: p.target };
    }
    return { hostIp, candidates: range, protocol: p.protocol, target: p.target };
  });
}

/** Two mappings collide when protocol and port match and either listens on every address or both on the same one. */
export function portsCollide(a: { hostIp: string; hostPort: number; protocol: string }, b: { hostIp: string; hostPort: number; protocol: string }): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === "" || b.hostIp === "" || a.hostIp === b.hostIp);
}

/** The stack project that holds a host port, from every project's published ports. */
export function findPortHolder(projects: Array<{ project: string; ports: PublishedPort[] }>, wanted: { hostIp: string; hostPort: number; protocol: string }): { project: string; service: string } | undefined {
  for (const p of [...projects].sort((a, b) => a.project.localeCompare(b.project))) {
    const hit = p.ports.find((x) => portsCollide(x, wanted));
    if (hit) return { project: p.project, service: hit.service };
  }
  return undefined;
}

/** `stack port SERVICE PORT [--protocol] [--index]`: the mapping, or undefined when the port is not published. */
export function lookupPublishedPort(ports: PublishedPort[], query: { service: string; target: number; protocol?: "tcp" | "udp"; container?: string }): PublishedPort | undefined {
  return [...ports]
    .sort((a, b) => a.container.localeCompare(b.container) || a.hostIp.localeCompare(b.hostIp))
    .find((p) => p.service === query.service && p.target === query.target && p.protocol === (query.protocol ?? "tcp") && (query.container === undefined || p.container === query.container));
}

/** "0.0.0.0:8080" as `stack port` prints it. */
export function formatPublishedPort(p: PublishedPort): string {
  return `${p.hostIp === "" ? "0.0.0.0" : p.hostIp}:${p.hostPort}`;
}
