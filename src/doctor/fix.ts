// `stack doctor --fix`: removes the leftovers of a plan through the layers'
// own clean-up (ContainerRuntime.cleanupLeftovers, NetworkManager
// cleanLeftovers / removeNetworks / detachContainer / applyFirewall,
// OciRuntime.delete). Each project is cleaned under its lock, from facts
// gathered again once the lock is held, so a command that started in between
// is never undercut.
import type { NetworkHost, NetworkManager } from "../network/index.js";
import type { ContainerRuntime, OciRuntime } from "../runtime/index.js";
import type { LeftoverPlan, ProjectCleanup } from "./leftovers.js";

export interface FixDeps {
  /** Opened on first use (it fails where no OCI runtime is usable). */
  runtime(): ContainerRuntime;
  network: NetworkManager;
  networkHost: NetworkHost;
  /** The OCI runtime of that name under this run dir. */
  ociRuntime(name: string): OciRuntime | undefined;
  /** Removes stack/<project> (an empty cgroup) in every hierarchy. */
  removeProjectCgroup(project: string): void;
  /** The project's lock; throws when another command holds it. */
  lock(project: string): Promise<{ release(): void }>;
  /** The plan again, from facts gathered now (called with the project's lock held). */
  replan(): Promise<LeftoverPlan>;
}

export interface FixOutcome {
  /** One line per thing done. */
  done: string[];
  /** One line per thing that failed or was not done. */
  failed: string[];
}

async function cleanProject(deps: FixDeps, c: ProjectCleanup, out: FixOutcome): Promise<void> {
  const step = async (what: string, run: () => Promise<unknown>) => {
    try {
      await run();
      out.done.push(`project ${c.project}: ${what}`);
    } catch (e) {
      out.failed.push(`project ${c.project}: ${what} failed: ${(e as Error).message}`);
    }
  };
  if (c.containers.length > 0) {
    await step(`removed container${c.containers.length > 1 ? "s" : ""} ${c.containers.join(", ")}`, () => deps.runtime().cleanupLeftovers(c.project, new Set(c.keep)));
  }
  if (c.emptyCgroup) await step(`removed the empty cgroup stack/${c.project}`, async () => deps.removeProjectCgroup(c.project));
  const strays = c.strayNetns;
  if (c.network.mode === "all") {
    if (c.network.viaCleanLeftovers) {
      await step(`removed its network state (namespaces, veths, bridges, firewall rules)${strays.length > 0 ? ` and netns ${strays.join(", ")}` : ""}`, () => deps.network.cleanLeftovers(c.project));
      return;
    }
    await step("removed its network state (namespaces, veths, bridges, firewall rules)", () => deps.network.removeNetworks(c.project, { all: true }));
  } else if (c.network.mode === "containers") {
    for (const container of c.network.containers) await step(`detached ${container} (netns, veths, published ports)`, () => deps.network.detachContainer(c.project, container));
  }
  if (strays.length > 0) {
    await step(`deleted netns ${strays.join(", ")}`, () => deps.networkHost.runIp(strays.map((n) => ({ args: ["netns", "del", n] })), { tolerant: true }));
  }
}

/** Applies `plan`: each project under its lock (re-planned then), then runtime state no project knows, then this state dir's firewall chains. */
export async function applyLeftoverPlan(deps: FixDeps, plan: LeftoverPlan): Promise<FixOutcome> {
  const out: FixOutcome = { done: [], failed: [] };
  let latest = plan;
  for (const { project } of plan.projects) {
    let lock: { release(): void };
    try {
      lock = await deps.lock(project);
    } catch (e) {
      out.failed.push(`project ${project}: not cleaned: ${(e as Error).message}`);
      continue;
    }
    try {
      latest = await deps.replan();
      const now = latest.projects.find((p) => p.project === project);
      if (now) await cleanProject(deps, now, out);
    } finally {
      lock.release();
    }
  }
  if (plan.projects.length > 0) latest = await deps.replan();
  for (const s of latest.runtimeState) {
    const rt = deps.ociRuntime(s.runtime);
    if (!rt) {
      out.failed.push(`${s.runtime} state of ${s.id}: ${s.runtime} is not installed any more`);
      continue;
    }
    try {
      await rt.delete(s.id);
      out.done.push(`deleted the ${s.runtime} state of container ${s.id}`);
    } catch (e) {
      out.failed.push(`${s.runtime} state of ${s.id}: ${(e as Error).message}`);
    }
  }
  if (latest.firewall) {
    try {
      await deps.network.applyFirewall();
      out.done.push("removed this state dir's chains from table ip stack");
    } catch (e) {
      out.failed.push(`this state dir's nft chains: ${(e as Error).message}`);
    }
  }
  return out;
}
