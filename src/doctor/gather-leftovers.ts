// Gathers what leftovers.ts judges: this state dir's projects (engine state,
// network records, container dirs, whether a command or supervisor holds
// them) and the host's stack-named resources (netns, links, cgroups, mounts
// under the state dir, runtime state under the run dir, nft chains).
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { listProjects, readProjectState } from "../engine/state.js";
import { LinuxNetworkHost, NetworkManager } from "../network/index.js";
import { firewallOwner } from "../network/names.js";
import { detectCgroupMode, OciRuntime, type RuntimeName } from "../runtime/index.js";
import { realCommandRunner } from "../fs/command-runner.js";
import { parseMountPoints } from "../runtime/mounter.js";
import { supervisorPaths } from "../supervisor/paths.js";
import { findTool } from "./gather.js";
import type { LeftoverFacts, ProjectFacts } from "./leftovers.js";
import { processAlive } from "../fs/process-alive.js";

export interface LeftoverGatherOptions {
  stateDir: string;
  runDir: string;
  /** Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** Default /run/netns. */
  netnsDir?: string;
  /** A lock held by this pid does not make a project busy (doctor --fix holds it while it cleans). */
  ownPid?: number;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return [];
  }
}


/** Why the project is in use: a live lock owner (other than `ownPid`) or a live supervisor. */
function busyReason(runDir: string, project: string, ownPid: number | undefined): string | undefined {
  try {
    const holder = readFileSync(join(runDir, project, "lock"), "utf8").trim();
    const pid = Number(holder.split(" ")[0]);
    if (pid !== ownPid && processAlive(pid)) return `\`${holder.split(" ").slice(1).join(" ") || "a command"}\` (pid ${pid}) holds its lock`;
  } catch {
    // no lock
  }
  try {
    const pid = Number(readFileSync(supervisorPaths(runDir, project).pidFile, "utf8").trim());
    if (processAlive(pid)) return `its supervisor (pid ${pid}) runs`;
  } catch {
    // no supervisor
  }
  return undefined;
}

function projectFacts(stateDir: string, runDir: string, network: NetworkManager, name: string, ownPid: number | undefined): ProjectFacts {
  const facts: ProjectFacts = { name, recorded: [], containerDirs: subdirs(join(stateDir, "projects", name, "containers")), networks: [], networkContainers: [] };
  try {
    facts.recorded = Object.values(readProjectState(stateDir, name).containers).map((c) => ({ name: c.name, id: c.id }));
    const net = network.readState(name);
    facts.networks = Object.values(net.networks).map((n) => ({ name: n.name, bridge: n.bridge, external: n.external }));
    facts.networkContainers = Object.values(net.containers).map((c) => ({
      container: c.container,
      ...(c.netns ? { netns: c.netns } : {}),
      ownsNetns: c.ownsNetns,
      hostVeths: c.endpoints.map((e) => e.hostVeth),
    }));
  } catch (e) {
    // A damaged record: nothing of the project can be proven abandoned.
    facts.busy = `its records cannot be read (${(e as Error).message})`;
    return facts;
  }
  const busy = busyReason(runDir, name, ownPid);
  if (busy) facts.busy = busy;
  return facts;
}

/** A probe of a `stack doctor` that still runs (its netns and cgroup are named stack-doctor-<pid>): not a leftover of anyone. */
function liveProbe(name: string): boolean {
  const m = /^stack-doctor-(\d+)$/.exec(name);
  return !!m && processAlive(Number(m[1]));
}

/** Network namespace inodes some process is in. */
function netnsInUse(): Set<number> {
  const inodes = new Set<number>();
  for (const pid of list("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // gone, or a kernel thread
    }
  }
  return inodes;
}

function countProcs(dir: string): number {
  try {
    return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter((l) => l.trim() !== "").length;
  } catch {
    return 0;
  }
}

/** stack/<project>/<id> in every hierarchy, merged, with the processes in each (sub-groups counted too). */
function stackCgroups(root: string): LeftoverFacts["cgroups"] {
  const hierarchies = detectCgroupMode(root) === "v2" ? [root] : subdirs(root).map((h) => join(root, h));
  const merged = new Map<string, { project: string; id?: string; processes: number }>();
  const add = (project: string, id: string | undefined, processes: number) => {
    const key = `${project}\0${id ?? ""}`;
    const e = merged.get(key) ?? { project, ...(id !== undefined ? { id } : {}), processes: 0 };
    e.processes += processes;
    merged.set(key, e);
  };
  const procsBelow = (dir: string): number => countProcs(dir) + subdirs(dir).reduce((n, s) => n + procsBelow(join(dir, s)), 0);
  for (const h of hierarchies) {
    for (const project of subdirs(join(h, "stack"))) {
      const dir = join(h, "stack", project);
      const ids = subdirs(dir);
      if (ids.length === 0) add(project, undefined, countProcs(dir));
      for (const id of ids) add(project, id, procsBelow(join(dir, id)));
    }
  }
  return [...merged.values()].sort((a, b) => a.project.localeCompare(b.project) || (a.id ?? "").localeCompare(b.id ?? ""));
}

export async function gatherLeftoverFacts(options: LeftoverGatherOptions): Promise<LeftoverFacts> {
  const { stateDir, runDir } = options;
  const host = new LinuxNetworkHost(options.netnsDir);
  const network = new NetworkManager({ host, stateDir });
  const names = listProjects(stateDir).filter((p) => subdirs(join(stateDir, "projects")).includes(p));
  const projects = names.map((n) => projectFacts(stateDir, runDir, network, n, options.ownPid));

  const used = netnsInUse();
  const now = Date.now();
  const netnsDir = options.netnsDir ?? "/run/netns";
  const netns = host.listNetns().filter((n) => n.startsWith("stack-") && !liveProbe(n)).flatMap((name) => {
    try {
      const st = statSync(join(netnsDir, name));
      return [{ name, inUse: used.has(st.ino), ageMs: Math.max(0, now - st.mtimeMs) }];
    } catch {
      return []; // deleted meanwhile
    }
  });
  const links = host.listLinks().filter((l) => l.startsWith("stk")).map((name) => {
    let master = false;
    try {
      readlinkSync(`/sys/class/net/${name}/master`);
      master = true;
    } catch {
      // none
    }
    return { name, idle: !master && list(`/sys/class/net/${name}/brif`).length === 0 };
  });
  const projectsDir = join(stateDir, "projects") + "/";
  const mounts = [...new Set(parseMountPoints(readFileSync("/proc/self/mountinfo", "utf8")).filter((m) => m.startsWith(projectsDir)))].sort();

  const runtimeState: LeftoverFacts["runtimeState"] = [];
  for (const name of ["runc", "crun"] as RuntimeName[]) {
    const binary = findTool(name);
    const root = join(runDir, name);
    if (!binary || list(root).length === 0) continue;
    try {
      for (const s of await new OciRuntime(realCommandRunner, { name, binary }, root).list()) runtimeState.push({ runtime: name, id: s.id, status: s.status });
    } catch {
      // unreadable state: nothing to judge
    }
  }
  const table = await host.readStackTable().catch(() => undefined);
  return {
    stateDir,
    firewallOwner: firewallOwner(stateDir),
    projects,
    netns,
    links,
    cgroups: stackCgroups(options.cgroupRoot ?? "/sys/fs/cgroup").filter((c) => !liveProbe(c.project)),
    mounts,
    runtimeState,
    nftChains: table?.chains ?? [],
  };
}
