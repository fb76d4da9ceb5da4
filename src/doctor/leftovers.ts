// Leftovers of earlier crashes: which of the host's stack-named resources
// this state directory provably abandoned, what `--fix` does about each, and
// what it must leave alone. Pure: facts in (gather-leftovers.ts), a plan out
// (applied by fix.ts through the runtime and network layers' own clean-up).
//
// The rule (docs/doctor.md): a resource is a leftover only when
//   1. this state directory owns it: a project of $STACK_STATE_DIR/projects
//      records it (network.json, a container dir), or it carries the
//      project's name (cgroup stack/<project>/…, netns stack-<project>-…),
//      or it is runtime state under this $STACK_RUN_DIR, or one of this
//      state directory's nft chains;
//   2. the project is idle: no live command holds its lock and no
//      supervisor of it runs;
//   3. nothing recorded still needs it: containers in state.json (stopped
//      ones too) keep their dirs, cgroups, netns and networks;
//   4. its processes are gone: a cgroup with processes or a namespace that a
//      process is in is never touched, and a namespace no record names is
//      only taken once it is older than STRAY_NETNS_MIN_AGE_MS (one that a
//      concurrent `up` is wiring up is younger).
// Anything stack-named that no project of this state directory owns (another
// STACK_STATE_DIR's, or one that is gone) is reported, never removed.
import type { CheckResult } from "./facts.js";
import { netnsPrefix } from "../network/names.js";

/** What network.json records of one network. */
export interface NetworkRecordFacts {
  name: string;
  bridge: string;
  external: boolean;
}

/** What network.json records of one container. */
export interface NetworkContainerFacts {
  container: string;
  netns?: string;
  ownsNetns: boolean;
  hostVeths: string[];
}

export interface ProjectFacts {
  name: string;
  /** Containers state.json records (stopped ones too), by name and runtime id. */
  recorded: Array<{ name: string; id: string }>;
  /** Runtime ids with a dir under projects/<name>/containers. */
  containerDirs: string[];
  networks: NetworkRecordFacts[];
  networkContainers: NetworkContainerFacts[];
  /** Why the project is in use right now (a live lock owner, a live supervisor); undefined when idle. */
  busy?: string;
}

export interface LeftoverFacts {
  stateDir: string;
  /** This state dir's id in table ip stack (chains forward_<id> …). */
  firewallOwner: string;
  /** Projects under $STACK_STATE_DIR/projects, sorted by name. */
  projects: ProjectFacts[];
  /** Every netns named stack-*; inUse = a process is in it; ageMs since it was added. */
  netns: Array<{ name: string; inUse: boolean; ageMs: number }>;
  /** Every link named stk*; idle = it has no master and nothing is enslaved to it. */
  links: Array<{ name: string; idle: boolean }>;
  /** stack/<project>/<id> over every hierarchy (id undefined: stack/<project> itself, with no child), with their process count. */
  cgroups: Array<{ project: string; id?: string; processes: number }>;
  /** Mount points under <stateDir>/projects. */
  mounts: string[];
  /** Containers the OCI runtimes know under this run dir. */
  runtimeState: Array<{ runtime: string; id: string; status: string }>;
  /** Chain names of table ip stack ([] when it does not exist). */
  nftChains: string[];
}

export type NetworkCleanup =
  | { mode: "none" }
  /** The project records no container: its whole network state goes (NetworkManager.cleanLeftovers, or removeNetworks all when stray netns of others share its prefix). */
  | { mode: "all"; viaCleanLeftovers: boolean }
  /** Only these unrecorded containers' namespaces and veths go (NetworkManager.detachContainer). */
  | { mode: "containers"; containers: string[] };

export interface ProjectCleanup {
  project: string;
  /** Runtime ids ContainerRuntime.cleanupLeftovers(project, keep) must keep. */
  keep: string[];
  /** Runtime ids that call removes (dirs, cgroups, overlay mounts, runtime state). */
  containers: string[];
  /** stack/<project> is an empty cgroup with nothing under it. */
  emptyCgroup: boolean;
  network: NetworkCleanup;
  /** stack-<project>-* namespaces no record names, old enough and unused (deleted one by one). */
  strayNetns: string[];
}

export interface LeftoverPlan {
  projects: ProjectCleanup[];
  /** Runtime state under this run dir of containers no project knows, not running. */
  runtimeState: Array<{ runtime: string; id: string }>;
  /** This state dir's chains remain in table ip stack though it records no network. */
  firewall: boolean;
  /** One line per leftover, for the report. */
  leftovers: string[];
  /** stack-named resources this state dir does not own: reported only. */
  foreign: string[];
  /** What was left alone on purpose, and why. */
  skipped: string[];
}

/** A namespace no record names is taken only when older than this: a concurrent `up` wires a young one. */
export const STRAY_NETNS_MIN_AGE_MS = 60_000;

const LIVE_RUNTIME_STATUS = new Set(["creating", "created", "running", "paused"]);

export function planLeftovers(f: LeftoverFacts): LeftoverPlan {
  const plan: LeftoverPlan = { projects: [], runtimeState: [], firewall: false, leftovers: [], foreign: [], skipped: [] };
  const projects = [...f.projects].sort((a, b) => a.name.localeCompare(b.name));
  const known = new Set(projects.map((p) => p.name));
  const hostNetns = new Map(f.netns.map((n) => [n.name, n]));
  const hostLinks = new Set(f.links.map((l) => l.name));

  // Which project a namespace belongs to: the one recording it, else the known project with the longest matching prefix.
  const recordedNetns = new Map<string, string>();
  for (const p of projects) for (const c of p.networkContainers) if (c.netns && c.ownsNetns) recordedNetns.set(c.netns, p.name);
  const netnsOwner = (name: string): string | undefined =>
    recordedNetns.get(name) ?? projects.filter((p) => name.startsWith(netnsPrefix(p.name))).sort((a, b) => b.name.length - a.name.length)[0]?.name;
  const recordedLinks = new Set(projects.flatMap((p) => [...p.networks.map((n) => n.bridge), ...p.networkContainers.flatMap((c) => c.hostVeths)]));
  const knownIds = new Set(projects.flatMap((p) => [...p.recorded.map((r) => r.id), ...p.containerDirs]));
  for (const c of f.cgroups) if (c.id && known.has(c.project)) knownIds.add(c.id);

  const networksRemaining: string[] = [];
  for (const p of projects) {
    const cleanup = planProject(p, f, hostNetns, hostLinks, netnsOwner, plan);
    if (cleanup) plan.projects.push(cleanup);
    const networksGo = cleanup?.network.mode === "all";
    if (!networksGo && p.networks.length > 0) networksRemaining.push(p.name);
  }

  // Runtime state under this run dir that no project knows.
  for (const s of [...f.runtimeState].sort((a, b) => a.id.localeCompare(b.id))) {
    if (knownIds.has(s.id)) continue;
    if (LIVE_RUNTIME_STATUS.has(s.status) && s.status !== "created") {
      plan.skipped.push(`${s.runtime} container ${s.id} is ${s.status} though no project records it; stop it with \`${s.runtime} --root <STACK_RUN_DIR>/${s.runtime} kill ${s.id} KILL\``);
      continue;
    }
    plan.runtimeState.push({ runtime: s.runtime, id: s.id });
    plan.leftovers.push(`${s.runtime} state of container ${s.id} (no project records it)`);
  }

  const own = [`forward_${f.firewallOwner}`, `postrouting_${f.firewallOwner}`, `published_${f.firewallOwner}`].filter((c) => f.nftChains.includes(c));
  if (own.length > 0 && networksRemaining.length === 0) {
    plan.firewall = true;
    plan.leftovers.push(`nft chains ${own.join(", ")} of this state dir in table ip stack (it records no network)`);
  }

  // What no project of this state dir owns: reported, never removed.
  for (const n of [...f.netns].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!n.inUse && netnsOwner(n.name) === undefined) plan.foreign.push(`netns ${n.name}`);
  }
  for (const l of [...f.links].sort((a, b) => a.name.localeCompare(b.name))) {
    if (l.idle && !recordedLinks.has(l.name)) plan.foreign.push(`link ${l.name}`);
  }
  const foreignCgroups = new Map<string, { ids: Set<string>; busy: boolean }>();
  for (const c of f.cgroups) {
    if (known.has(c.project)) continue;
    const entry = foreignCgroups.get(c.project) ?? { ids: new Set<string>(), busy: false };
    if (c.id) entry.ids.add(c.id);
    if (c.processes > 0) entry.busy = true;
    foreignCgroups.set(c.project, entry);
  }
  for (const [project, e] of [...foreignCgroups].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (!e.busy) plan.foreign.push(`cgroup stack/${project}${e.ids.size > 0 ? ` (${[...e.ids].sort().join(", ")})` : ""}`);
  }
  const projectsDir = `${f.stateDir.replace(/\/+$/, "")}/projects/`;
  for (const m of [...f.mounts].sort()) {
    const [project, containers, id] = m.slice(projectsDir.length).split("/");
    const p = projects.find((x) => x.name === project);
    if (!(containers === "containers" && id && p && (p.containerDirs.includes(id) || p.recorded.some((r) => r.id === id)))) {
      plan.foreign.push(`mount ${m} (under the state dir, but of no container it records)`);
    }
  }
  plan.leftovers.sort();
  return plan;
}

function planProject(
  p: ProjectFacts,
  f: LeftoverFacts,
  hostNetns: Map<string, { name: string; inUse: boolean; ageMs: number }>,
  hostLinks: Set<string>,
  netnsOwner: (name: string) => string | undefined,
  plan: LeftoverPlan,
): ProjectCleanup | undefined {
  if (p.busy) {
    plan.skipped.push(`project ${p.name}: ${p.busy}`);
    return undefined;
  }
  const keepIds = new Set(p.recorded.map((r) => r.id));
  const keepNames = new Set(p.recorded.map((r) => r.name));
  const cgroups = f.cgroups.filter((c) => c.project === p.name);
  const running = new Set(cgroups.filter((c) => c.id && c.processes > 0 && !keepIds.has(c.id)).map((c) => c.id!));
  for (const id of [...running].sort()) plan.skipped.push(`project ${p.name}: container ${id} has no record but its processes still run; stop them before cleaning`);

  const cgroupIds = new Set(cgroups.flatMap((c) => (c.id ? [c.id] : [])));
  const containers = [...new Set([...p.containerDirs, ...cgroupIds])].filter((id) => !keepIds.has(id) && !running.has(id)).sort();
  const mountsOf = (id: string) => f.mounts.filter((m) => m.startsWith(`${f.stateDir.replace(/\/+$/, "")}/projects/${p.name}/containers/${id}/`));
  for (const id of containers) {
    const parts = [
      ...(p.containerDirs.includes(id) ? ["dir"] : []),
      ...(cgroupIds.has(id) ? ["cgroup"] : []),
      ...(mountsOf(id).length > 0 ? ["overlay mount"] : []),
      ...(f.runtimeState.some((s) => s.id === id) ? ["runtime state"] : []),
    ];
    plan.leftovers.push(`project ${p.name}: container ${id} (${parts.join(", ")})`);
  }
  const bare = cgroups.filter((c) => c.id === undefined);
  const emptyCgroup = containers.length === 0 && keepIds.size === 0 && running.size === 0 && bare.length > 0 && bare.every((c) => c.processes === 0);
  if (emptyCgroup) plan.leftovers.push(`project ${p.name}: empty cgroup stack/${p.name}`);

  // Namespaces: the project's own (recorded or by prefix) that the host has.
  const mine = [...hostNetns.values()].filter((n) => netnsOwner(n.name) === p.name);
  const recordedHere = new Set(p.networkContainers.flatMap((c) => (c.netns && c.ownsNetns ? [c.netns] : [])));
  const strayNetns: string[] = [];
  for (const n of mine.filter((x) => !recordedHere.has(x.name)).sort((a, b) => a.name.localeCompare(b.name))) {
    if (n.inUse) plan.skipped.push(`project ${p.name}: netns ${n.name} has no record but a process is in it`);
    else if (n.ageMs < STRAY_NETNS_MIN_AGE_MS) plan.skipped.push(`project ${p.name}: netns ${n.name} has no record but is only ${Math.round(n.ageMs / 1000)} s old (maybe being set up)`);
    else strayNetns.push(n.name);
  }
  for (const n of strayNetns) plan.leftovers.push(`project ${p.name}: netns ${n} (no record names it)`);

  let network: NetworkCleanup = { mode: "none" };
  const present = (c: NetworkContainerFacts) => [
    ...(c.ownsNetns && c.netns && hostNetns.has(c.netns) ? [`netns ${c.netns}`] : []),
    ...c.hostVeths.filter((v) => hostLinks.has(v)).map((v) => `link ${v}`),
  ];
  const inUse = (c: NetworkContainerFacts) => !!(c.ownsNetns && c.netns && hostNetns.get(c.netns)?.inUse);
  if (keepNames.size === 0) {
    const busyNs = p.networkContainers.filter(inUse);
    if (busyNs.length > 0) {
      for (const c of busyNs) plan.skipped.push(`project ${p.name}: netns ${c.netns} is recorded for ${c.container}, which is in no state, but a process is in it`);
    } else if (p.networks.length > 0 || p.networkContainers.length > 0) {
      // cleanLeftovers deletes every stack-<project>-* namespace it has no record of: only when each of them is ours to delete.
      const prefixed = [...hostNetns.keys()].filter((n) => n.startsWith(netnsPrefix(p.name)));
      const viaCleanLeftovers = prefixed.every((n) => recordedHere.has(n) || strayNetns.includes(n));
      network = { mode: "all", viaCleanLeftovers };
      const lines = [
        ...p.networkContainers.flatMap(present),
        ...p.networks.filter((n) => !n.external && hostLinks.has(n.bridge)).map((n) => `bridge ${n.bridge} of network ${n.name}`),
      ];
      if (lines.length === 0) lines.push("network records (nothing of them is on the host)");
      for (const l of lines) plan.leftovers.push(`project ${p.name}: ${l} (the project records no container)`);
    }
  } else {
    const unrecorded = p.networkContainers.filter((c) => !keepNames.has(c.container)).sort((a, b) => a.container.localeCompare(b.container));
    const detach: string[] = [];
    for (const c of unrecorded) {
      if (inUse(c)) {
        plan.skipped.push(`project ${p.name}: netns ${c.netns} of ${c.container} (in no state) still has a process`);
        continue;
      }
      detach.push(c.container);
      const lines = present(c);
      for (const l of lines.length > 0 ? lines : ["network record"]) plan.leftovers.push(`project ${p.name}: ${l} of ${c.container} (in no state)`);
    }
    if (detach.length > 0) network = { mode: "containers", containers: detach };
  }

  if (containers.length === 0 && !emptyCgroup && network.mode === "none" && strayNetns.length === 0) return undefined;
  return { project: p.name, keep: [...new Set([...keepIds, ...running])].sort(), containers, emptyCgroup, network, strayNetns };
}

/** The report lines of the leftovers: this state dir's (fixable) and the ones it does not own (reported only). */
export function checkLeftovers(plan: LeftoverPlan, stateDir: string): CheckResult[] {
  const skipped = plan.skipped.length > 0 ? `; left alone: ${plan.skipped.join("; ")}` : "";
  const own: CheckResult =
    plan.leftovers.length === 0
      ? { name: "leftovers", status: "ok", detail: `nothing abandoned by ${stateDir}${skipped}`, fix: "" }
      : { name: "leftovers", status: "warn", detail: `${plan.leftovers.length} left by earlier crashes: ${plan.leftovers.join("; ")}${skipped}`, fix: "stack doctor --fix" };
  const foreign: CheckResult =
    plan.foreign.length === 0
      ? { name: "unowned", status: "ok", detail: "no stack-named resource on the host lacks an owner here", fix: "" }
      : {
          name: "unowned",
          status: "warn",
          detail: `${plan.foreign.length} stack-named resource${plan.foreign.length > 1 ? "s" : ""} that ${stateDir} does not own (another STACK_STATE_DIR's, or one that is gone): ${plan.foreign.join("; ")}`,
          fix: "run `stack doctor --fix` with the STACK_STATE_DIR that made them; if it is gone, remove them by hand (ip netns del NAME, ip link del NAME, rmdir the cgroup dirs)",
        };
  return [own, foreign];
}
