import { describe, expect, test } from "vitest";
import { applyLeftoverPlan, type FixDeps } from "../../../src/doctor/fix.js";
import type { LeftoverPlan, ProjectCleanup } from "../../../src/doctor/leftovers.js";
import type { ContainerRuntime, OciRuntime } from "../../../src/runtime/index.js";
import type { NetworkHost, NetworkManager } from "../../../src/network/index.js";
import { ConflictError, SystemError } from "../../../src/errors.js";

function plan(over: Partial<LeftoverPlan> = {}): LeftoverPlan {
  return { projects: [], runtimeState: [], firewall: false, leftovers: [], foreign: [], skipped: [], ...over };
}

function cleanup(project: string, over: Partial<ProjectCleanup> = {}): ProjectCleanup {
  return { project, keep: [], containers: [], emptyCgroup: false, network: { mode: "none" }, strayNetns: [], ...over };
}

/** Recording fakes of the layers' clean-up calls; `fail` makes the named call throw. */
function fakes(initial: LeftoverPlan, options: { fail?: string[]; busy?: string[]; replans?: LeftoverPlan[] } = {}) {
  const calls: string[] = [];
  const act = async (name: string) => {
    calls.push(name);
    if (options.fail?.includes(name.split("(")[0]!)) throw new SystemError(`${name.split("(")[0]} broke`);
  };
  const replans = [...(options.replans ?? [])];
  const deps: FixDeps = {
    runtime: () => ({ cleanupLeftovers: (p?: string, keep?: ReadonlySet<string>) => act(`cleanupLeftovers(${p}, [${[...(keep ?? [])].join(",")}])`).then(() => []) }) as unknown as ContainerRuntime,
    network: {
      cleanLeftovers: (p: string) => act(`cleanLeftovers(${p})`),
      removeNetworks: (p: string, o: { all?: boolean }) => act(`removeNetworks(${p}, all=${o.all})`),
      detachContainer: (p: string, c: string) => act(`detachContainer(${p}, ${c})`),
      applyFirewall: () => act("applyFirewall()"),
    } as unknown as NetworkManager,
    networkHost: { runIp: (cmds: Array<{ args: string[] }>, o?: { tolerant?: boolean }) => act(`runIp(${cmds.map((c) => c.args.join(" ")).join("; ")}, tolerant=${o?.tolerant})`) } as unknown as NetworkHost,
    ociRuntime: (name) => (name === "runc" ? ({ delete: (id: string) => act(`delete(${id})`) } as unknown as OciRuntime) : undefined),
    removeProjectCgroup: (p) => {
      calls.push(`removeProjectCgroup(${p})`);
    },
    lock: async (p) => {
      if (options.busy?.includes(p)) throw new ConflictError(`project "${p}" is busy: \`up\` (pid 7) is changing it`);
      calls.push(`lock(${p})`);
      return { release: () => calls.push(`release(${p})`) };
    },
    replan: async () => {
      calls.push("replan()");
      return replans.shift() ?? initial;
    },
  };
  return { deps, calls };
}

describe("applyLeftoverPlan", () => {
  test("a crashed project: runtime clean-up with its keep set, then the network layer's cleanLeftovers, under the lock", async () => {
    const p = plan({ projects: [cleanup("ghost", { keep: ["k1"], containers: ["c1"], network: { mode: "all", viaCleanLeftovers: true }, strayNetns: ["stack-ghost-old"] })] });
    const { deps, calls } = fakes(p);
    const out = await applyLeftoverPlan(deps, p);
    expect(calls).toEqual(["lock(ghost)", "replan()", "cleanupLeftovers(ghost, [k1])", "cleanLeftovers(ghost)", "release(ghost)", "replan()"]);
    expect(out).toEqual({
      done: ["project ghost: removed container c1", "project ghost: removed its network state (namespaces, veths, bridges, firewall rules) and netns stack-ghost-old"],
      failed: [],
    });
  });

  test("when cleanLeftovers would hit others' namespaces: removeNetworks all, then the strays one by one", async () => {
    const p = plan({ projects: [cleanup("app", { network: { mode: "all", viaCleanLeftovers: false }, strayNetns: ["stack-app-x"], emptyCgroup: true })] });
    const { deps, calls } = fakes(p);
    await applyLeftoverPlan(deps, p);
    expect(calls.slice(2, 5)).toEqual(["removeProjectCgroup(app)", "removeNetworks(app, all=true)", "runIp(netns del stack-app-x, tolerant=true)"]);
  });

  test("unrecorded containers are detached one by one", async () => {
    const p = plan({ projects: [cleanup("demo", { keep: ["w1"], network: { mode: "containers", containers: ["demo-db-1", "demo-db-2"] } })] });
    const { deps, calls } = fakes(p);
    const out = await applyLeftoverPlan(deps, p);
    expect(calls.slice(2, 4)).toEqual(["detachContainer(demo, demo-db-1)", "detachContainer(demo, demo-db-2)"]);
    expect(out.done).toEqual(["project demo: detached demo-db-1 (netns, veths, published ports)", "project demo: detached demo-db-2 (netns, veths, published ports)"]);
  });

  test("a project whose lock a command holds is not cleaned, and said so", async () => {
    const p = plan({ projects: [cleanup("busy", { containers: ["c1"] })] });
    const { deps, calls } = fakes(p, { busy: ["busy"] });
    const out = await applyLeftoverPlan(deps, p);
    expect(calls).toEqual(["replan()"]);
    expect(out).toEqual({ done: [], failed: ['project busy: not cleaned: project "busy" is busy: `up` (pid 7) is changing it'] });
  });

  test("what the facts gathered under the lock say wins: a project that became busy or clean meanwhile is not touched", async () => {
    const p = plan({ projects: [cleanup("ghost", { containers: ["c1"] })] });
    const { deps, calls } = fakes(p, { replans: [plan()] });
    const out = await applyLeftoverPlan(deps, p);
    expect(calls).toEqual(["lock(ghost)", "replan()", "release(ghost)", "replan()"]);
    expect(out).toEqual({ done: [], failed: [] });
  });

  test("a failing step is reported and the next ones still run; the lock is released", async () => {
    const p = plan({ projects: [cleanup("ghost", { containers: ["c1"], network: { mode: "all", viaCleanLeftovers: true } })] });
    const { deps, calls } = fakes(p, { fail: ["cleanupLeftovers"] });
    const out = await applyLeftoverPlan(deps, p);
    expect(out.failed).toEqual(["project ghost: removed container c1 failed: cleanupLeftovers broke"]);
    expect(out.done).toEqual(["project ghost: removed its network state (namespaces, veths, bridges, firewall rules)"]);
    expect(calls).toContain("release(ghost)");
  });

  test("runtime state no project knows, through the OCI runtime of its name; then this state dir's firewall chains", async () => {
    const p = plan({ runtimeState: [{ runtime: "runc", id: "lost" }, { runtime: "crun", id: "gone" }], firewall: true });
    const { deps, calls } = fakes(p, { fail: ["applyFirewall"] });
    const out = await applyLeftoverPlan(deps, p);
    expect(calls).toEqual(["delete(lost)", "applyFirewall()"]);
    expect(out).toEqual({
      done: ["deleted the runc state of container lost"],
      failed: ["crun state of gone: crun is not installed any more", "this state dir's nft chains: applyFirewall broke"],
    });
  });
});
