// ulimits → OCI rlimits, never above the host's hard limit: raising a hard
// limit needs CAP_SYS_RESOURCE in the host's user namespace, which a
// rootless or restricted host lacks, and the runtime then fails half-way.
// A request above the host's hard limit is clamped to it, with a warning.
import { InvalidInputError } from "../errors.js";
import type { UlimitModel } from "../schema/model.js";

export interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

const NAMES = ["as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"];

/** Host limits by ulimit name (nofile, nproc …); Infinity = unlimited. */
export type HostRlimits = Record<string, { soft: number; hard: number }>;

const PROC_LIMIT_NAMES: Record<string, string> = {
  "Max cpu time": "cpu",
  "Max file size": "fsize",
  "Max data size": "data",
  "Max stack size": "stack",
  "Max core file size": "core",
  "Max resident set": "rss",
  "Max processes": "nproc",
  "Max open files": "nofile",
  "Max locked memory": "memlock",
  "Max address space": "as",
  "Max file locks": "locks",
  "Max pending signals": "sigpending",
  "Max msgqueue size": "msgqueue",
  "Max nice priority": "nice",
  "Max realtime priority": "rtprio",
  "Max realtime timeout": "rttime",
};

/** Parses /proc/<pid>/limits. */
export function parseProcLimits(text: string): HostRlimits {
  const out: HostRlimits = {};
  for (const line of text.split("\n")) {
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    const name = m && PROC_LIMIT_NAMES[m[1]!];
    if (!m || !name) continue;
    const value = (s: string) => (s === "unlimited" ? Infinity : Number(s));
    out[name] = { soft: value(m[2]!), hard: value(m[3]!) };
  }
  return out;
}

const UNLIMITED = 18446744073709551615; // RLIM_INFINITY as the OCI spec's uint64

export function containerRlimits(service: string, ulimits: Record<string, UlimitModel>, host: HostRlimits, warnings: string[]): Rlimit[] {
  const out: Rlimit[] = [];
  for (const name of Object.keys(ulimits).sort()) {
    const path = `services.${service}.ulimits.${name}`;
    if (!NAMES.includes(name)) {
      throw new InvalidInputError(`${path}: unknown ulimit ${JSON.stringify(name)}`, { hint: `use one of ${NAMES.join(", ")}` });
    }
    const u = ulimits[name]!;
    const normalize = (v: number) => (v < 0 ? Infinity : v);
    let soft = normalize(u.soft);
    let hard = normalize(u.hard);
    if (soft > hard) {
      throw new InvalidInputError(`${path}: soft limit ${u.soft} is above the hard limit ${u.hard}`, { hint: "make soft <= hard" });
    }
    const hostHard = host[name]?.hard ?? Infinity;
    if (hard > hostHard) {
      warnings.push(`${path}: hard limit ${hard === Infinity ? "unlimited" : hard} is above this host's hard limit ${hostHard}; using ${hostHard} (raising it needs CAP_SYS_RESOURCE)`);
      hard = hostHard;
      soft = Math.min(soft, hard);
    }
    const num = (v: number) => (v === Infinity ? UNLIMITED : v);
    out.push({ type: `RLIMIT_${name.toUpperCase()}`, soft: num(soft), hard: num(hard) });
  }
  return out;
}
