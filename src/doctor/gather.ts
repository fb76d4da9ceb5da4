// Gathers the host facts of `stack doctor`: files under /proc and /sys, the
// installed tools, and the probes (run concurrently, so the whole check
// takes about as long as the test container).
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, readdirSync, readlinkSync, rmSync, statfsSync } from "node:fs";
import { release } from "node:os";
import { dirname, join } from "node:path";
import { chooseRuntime, detectCgroupMode, type RuntimeName } from "../runtime/index.js";
import { isStackError } from "../errors.js";
import { isStaticElf } from "./elf.js";
import type { CgroupFacts, HostFacts, PortListener, ProbeOutcome, RuntimeFacts } from "./facts.js";
import { REQUIRED_CONTROLLERS } from "./checks.js";
import { parseProcNet } from "./proc-net.js";
import { probeContainer, probeNetns, probeNft, probeOverlay, type ProbeBinary } from "./probes.js";

export interface GatherOptions {
  stateDir: string;
  /** STACK_RUNTIME, as the CLI read it. */
  runtimeOverride?: string;
  /** Default /sys/fs/cgroup. */
  cgroupRoot?: string;
}

const BIN_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The first executable `name` in the usual system dirs (doctor runs as root with any PATH). */
export function findTool(name: string): string | undefined {
  for (const d of BIN_DIRS) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function readHead(path: string, bytes: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function cgroupFacts(root: string): CgroupFacts {
  const mode = detectCgroupMode(root);
  if (mode === "v2") {
    let controllers: string[] = [];
    try {
      controllers = readFileSync(join(root, "cgroup.controllers"), "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      // unreadable: none
    }
    return { mode, controllers: controllers.sort() };
  }
  // v1 and hybrid: the runtime uses the v1 hierarchy of each controller (cpu may be a link to cpu,cpuacct).
  return { mode, controllers: REQUIRED_CONTROLLERS.filter((c) => existsSync(join(root, c, "cgroup.procs"))) };
}

function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** Sockets on port 53 of the host, with the programs that hold the wildcard ones. */
function dnsListeners(): PortListener[] {
  const tables: Array<[string, "tcp" | "udp", 4 | 6]> = [["tcp", "tcp", 4], ["tcp6", "tcp", 6], ["udp", "udp", 4], ["udp6", "udp", 6]];
  const sockets = tables.flatMap(([file, protocol, family]) => {
    try {
      return parseProcNet(readFileSync(`/proc/net/${file}`, "utf8"), protocol, family);
    } catch {
      return [];
    }
  }).filter((s) => s.port === 53);
  const wildcardInodes = new Set(sockets.filter((s) => s.address === "0.0.0.0" || s.address === "::").map((s) => s.inode));
  const holders = wildcardInodes.size > 0 ? socketHolders(wildcardInodes) : new Map<number, string[]>();
  return sockets
    .map((s) => ({ protocol: s.protocol, address: s.address, port: s.port, holders: holders.get(s.inode) ?? [] }))
    .sort((a, b) => a.address.localeCompare(b.address) || a.protocol.localeCompare(b.protocol));
}

/** "name (pid N)" of the processes that have one of `inodes` open. */
function socketHolders(inodes: Set<number>): Map<number, string[]> {
  const found = new Map<number, string[]>();
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (!m || !inodes.has(Number(m[1]))) continue;
      let comm = "?";
      try {
        comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      } catch {
        // gone meanwhile
      }
      const list = found.get(Number(m[1])) ?? [];
      const who = `${comm} (pid ${pid})`;
      if (!list.includes(who)) list.push(who);
      found.set(Number(m[1]), list);
    }
  }
  return found;
}

function busyboxFacts(): HostFacts["busybox"] {
  for (const path of ["/bin/busybox", "/usr/bin/busybox"]) {
    if (!existsSync(path)) continue;
    try {
      return { path, static: isStaticElf(readHead(path, 4096)) === true };
    } catch {
      return { path, static: false };
    }
  }
  return undefined;
}

function runtimeChoice(cgroup: CgroupFacts, override: string | undefined): Pick<RuntimeFacts, "installed" | "chosen" | "choiceError"> {
  const installed: RuntimeFacts["installed"] = {};
  for (const name of ["runc", "crun"] as const) {
    const p = findTool(name);
    if (p) installed[name] = p;
  }
  try {
    const choice = chooseRuntime(installed as Partial<Record<RuntimeName, string>>, cgroup.mode, override);
    return { installed, chosen: choice.name };
  } catch (e) {
    if (!isStackError(e)) throw e;
    return { installed, choiceError: { message: e.message, hint: e.hint ?? "" } };
  }
}

const notRoot: ProbeOutcome = { ok: false, skipped: "needs root" };

/** Every host fact; the probes run in a temporary dir inside the state dir, removed before this returns. */
export async function gatherHostFacts(options: GatherOptions): Promise<HostFacts> {
  const uid = process.getuid?.() ?? -1;
  const root = uid === 0;
  const cgroup = cgroupFacts(options.cgroupRoot ?? "/sys/fs/cgroup");
  const choice = runtimeChoice(cgroup, options.runtimeOverride);
  const ip = findTool("ip");
  const nft = findTool("nft");
  const busybox = busyboxFacts();
  const tini = existsSync("/usr/bin/tini-static") ? "/usr/bin/tini-static" : undefined;

  let probeBase: string | undefined;
  let probeBaseError: string | undefined;
  if (root) {
    try {
      mkdirSync(options.stateDir, { recursive: true });
      probeBase = mkdtempSync(join(options.stateDir, ".doctor-"));
    } catch (e) {
      probeBaseError = `cannot make a temporary dir in ${options.stateDir}: ${(e as Error).message}`;
    }
  }
  const failed: ProbeOutcome = { ok: false, error: probeBaseError ?? "" };
  const binary: ProbeBinary | undefined = busybox?.static ? { path: busybox.path, kind: "busybox" } : tini ? { path: tini, kind: "tini" } : undefined;
  try {
    const [overlay, container, netns, nftList] = await Promise.all([
      !root ? notRoot : probeBase ? probeOverlay(probeBase) : failed,
      !root ? notRoot
        : !choice.chosen ? ({ ok: false, skipped: "no usable runtime" } as ProbeOutcome)
        : !binary ? ({ ok: false, skipped: "neither busybox-static nor tini-static is installed to run in the test container" } as ProbeOutcome)
        : probeBase ? probeContainer(probeBase, `stack-doctor-${process.pid}`, binary, options.runtimeOverride)
        : failed,
      !root ? notRoot : ip ? probeNetns(ip, `stack-doctor-${process.pid}`) : ({ ok: false, skipped: "ip is missing" } as ProbeOutcome),
      !root ? notRoot : nft ? probeNft(nft) : ({ ok: false, skipped: "nft is missing" } as ProbeOutcome),
    ]);
    let ipForward: HostFacts["ipForward"] = { writable: false };
    try {
      const path = "/proc/sys/net/ipv4/ip_forward";
      const value = readFileSync(path, "utf8").trim();
      let writable = false;
      try {
        accessSync(path, constants.W_OK);
        writable = root;
      } catch {
        // read-only
      }
      ipForward = { value, writable };
    } catch {
      // no IPv4 sysctls
    }
    const diskPath = nearestExisting(options.stateDir);
    let disk: HostFacts["disk"];
    try {
      const s = statfsSync(diskPath);
      disk = { path: diskPath, freeBytes: s.bavail * s.bsize };
    } catch (e) {
      disk = { path: diskPath, error: (e as Error).message };
    }
    const mmdebstrap = findTool("mmdebstrap");
    return {
      uid,
      kernelRelease: release(),
      overlay,
      cgroup,
      runtime: { ...choice, probe: container, ...(binary ? { probeCommand: binary.kind === "busybox" ? "busybox true" : "tini-static --version" } : {}) },
      ip: { ...(ip ? { path: ip } : {}), netns },
      nft: { ...(nft ? { path: nft } : {}), list: nftList },
      ipForward,
      disk,
      dnsListeners: dnsListeners(),
      ...(tini ? { tini } : {}),
      ...(busybox ? { busybox } : {}),
      ...(mmdebstrap ? { mmdebstrap } : {}),
    };
  } finally {
    if (probeBase) rmSync(probeBase, { recursive: true, force: true });
  }
}
