import { describe, expect, test } from "vitest";
import { checkLeftovers, planLeftovers, STRAY_NETNS_MIN_AGE_MS, type LeftoverFacts, type ProjectFacts } from "../../../src/doctor/leftovers.js";

const OLD = STRAY_NETNS_MIN_AGE_MS + 1000;

function facts(over: Partial<LeftoverFacts> = {}): LeftoverFacts {
  return { stateDir: "/s", firewallOwner: "abcd1234", projects: [], netns: [], links: [], cgroups: [], mounts: [], runtimeState: [], nftChains: [], ...over };
}

function project(name: string, over: Partial<ProjectFacts> = {}): ProjectFacts {
  return { name, recorded: [], containerDirs: [], networks: [], networkContainers: [], ...over };
}

/** A project that crashed during `up`: network records, a netns, a bridge, a container dir and cgroup, nothing in state.json. */
function crashed(name = "ghost"): LeftoverFacts {
  return facts({
    projects: [
      project(name, {
        containerDirs: ["c1"],
        networks: [{ name: `${name}_default`, bridge: "stk000000000001", external: false }],
        networkContainers: [{ container: `${name}-web-1`, netns: `stack-${name}-web-1`, ownsNetns: true, hostVeths: ["stk0000000000a1"] }],
      }),
    ],
    netns: [{ name: `stack-${name}-web-1`, inUse: false, ageMs: 5 }],
    links: [{ name: "stk000000000001", idle: false }, { name: "stk0000000000a1", idle: false }],
    cgroups: [{ project: name, id: "c1", processes: 0 }],
    mounts: [`/s/projects/${name}/containers/c1/rootfs`],
    runtimeState: [{ runtime: "runc", id: "c1", status: "stopped" }],
    nftChains: ["forward", "forward_abcd1234", "postrouting_abcd1234", "published_abcd1234"],
  });
}

describe("planLeftovers", () => {
  test("nothing on the host, nothing recorded: no leftover", () => {
    const plan = planLeftovers(facts());
    expect(plan).toEqual({ projects: [], runtimeState: [], firewall: false, leftovers: [], foreign: [], skipped: [] });
  });

  test("a crashed project: every part is a leftover, cleaned through the layers' own calls", () => {
    const plan = planLeftovers(crashed());
    expect(plan.projects).toEqual([
      { project: "ghost", keep: [], containers: ["c1"], emptyCgroup: false, network: { mode: "all", viaCleanLeftovers: true }, strayNetns: [] },
    ]);
    expect(plan.leftovers).toEqual([
      "nft chains forward_abcd1234, postrouting_abcd1234, published_abcd1234 of this state dir in table ip stack (it records no network)",
      "project ghost: bridge stk000000000001 of network ghost_default (the project records no container)",
      "project ghost: container c1 (dir, cgroup, overlay mount, runtime state)",
      "project ghost: link stk0000000000a1 (the project records no container)",
      "project ghost: netns stack-ghost-web-1 (the project records no container)",
    ]);
    expect(plan.firewall).toBe(true);
    expect(plan.runtimeState).toEqual([]); // c1's runtime state goes with its container
    expect(plan.foreign).toEqual([]);
  });

  test("a busy project (live lock owner or supervisor) is left alone entirely", () => {
    const f = crashed();
    f.projects[0]!.busy = "`up` (pid 4242) holds its lock";
    const plan = planLeftovers(f);
    expect(plan.projects).toEqual([]);
    expect(plan.leftovers).toEqual([]);
    expect(plan.firewall).toBe(false); // its networks still count
    expect(plan.skipped).toEqual(["project ghost: `up` (pid 4242) holds its lock"]);
    expect(plan.foreign).toEqual([]); // busy, but still ours: not reported as someone else's
  });

  test("containers state.json records (stopped ones too) keep their dirs, cgroups, netns and networks", () => {
    const f = crashed("demo");
    f.projects[0]!.recorded = [{ name: "demo-web-1", id: "c1" }];
    const plan = planLeftovers(f);
    expect(plan).toMatchObject({ projects: [], leftovers: [], firewall: false, foreign: [] });
  });

  test("a recreated container's old id is a leftover; the recorded one is kept", () => {
    const f = crashed("demo");
    f.projects[0]!.recorded = [{ name: "demo-web-1", id: "c2" }];
    f.projects[0]!.containerDirs = ["c1", "c2"];
    f.cgroups.push({ project: "demo", id: "c2", processes: 3 });
    const plan = planLeftovers(f);
    expect(plan.projects).toEqual([{ project: "demo", keep: ["c2"], containers: ["c1"], emptyCgroup: false, network: { mode: "none" }, strayNetns: [] }]);
    expect(plan.firewall).toBe(false);
  });

  test("an unrecorded container whose processes still run is skipped, and kept by the runtime clean-up", () => {
    const f = crashed("demo");
    f.cgroups.push({ project: "demo", id: "c9", processes: 2 });
    const plan = planLeftovers(f);
    expect(plan.projects[0]).toMatchObject({ containers: ["c1"], keep: ["c9"] });
    expect(plan.skipped).toEqual(["project demo: container c9 has no record but its processes still run; stop them before cleaning"]);
  });

  test("network records of containers not in state.json are detached; recorded ones stay", () => {
    const f = facts({
      projects: [
        project("demo", {
          recorded: [{ name: "demo-web-1", id: "w1" }],
          containerDirs: ["w1"],
          networks: [{ name: "demo_default", bridge: "stkb", external: false }],
          networkContainers: [
            { container: "demo-web-1", netns: "stack-demo-web-1", ownsNetns: true, hostVeths: ["stkv1"] },
            { container: "demo-db-1", netns: "stack-demo-db-1", ownsNetns: true, hostVeths: ["stkv2"] },
          ],
        }),
      ],
      netns: [{ name: "stack-demo-web-1", inUse: true, ageMs: OLD }, { name: "stack-demo-db-1", inUse: false, ageMs: OLD }],
      links: [{ name: "stkb", idle: false }, { name: "stkv1", idle: false }, { name: "stkv2", idle: false }],
      cgroups: [{ project: "demo", id: "w1", processes: 1 }],
    });
    const plan = planLeftovers(f);
    expect(plan.projects).toEqual([{ project: "demo", keep: ["w1"], containers: [], emptyCgroup: false, network: { mode: "containers", containers: ["demo-db-1"] }, strayNetns: [] }]);
    expect(plan.leftovers).toEqual(["project demo: link stkv2 of demo-db-1 (in no state)", "project demo: netns stack-demo-db-1 of demo-db-1 (in no state)"]);
  });

  test("an unrecorded network container whose namespace has a process is not detached", () => {
    const f = facts({
      projects: [project("demo", { recorded: [{ name: "demo-web-1", id: "w1" }], networkContainers: [{ container: "demo-db-1", netns: "stack-demo-db-1", ownsNetns: true, hostVeths: [] }] })],
      netns: [{ name: "stack-demo-db-1", inUse: true, ageMs: OLD }],
    });
    const plan = planLeftovers(f);
    expect(plan.projects).toEqual([]);
    expect(plan.skipped).toEqual(["project demo: netns stack-demo-db-1 of demo-db-1 (in no state) still has a process"]);
  });

  test("stray namespaces with the project's prefix: taken when old and unused, skipped when young or in use", () => {
    const f = facts({
      projects: [project("demo", { recorded: [{ name: "demo-web-1", id: "w1" }] })],
      netns: [
        { name: "stack-demo.old-1", inUse: false, ageMs: OLD },
        { name: "stack-demo.young-1", inUse: false, ageMs: 3000 },
        { name: "stack-demo.busy-1", inUse: true, ageMs: OLD },
      ],
    });
    const plan = planLeftovers(f);
    expect(plan.projects).toEqual([{ project: "demo", keep: ["w1"], containers: [], emptyCgroup: false, network: { mode: "none" }, strayNetns: ["stack-demo.old-1"] }]);
    expect(plan.skipped).toEqual([
      "project demo: netns stack-demo.busy-1 has no record but a process is in it",
      "project demo: netns stack-demo.young-1 has no record but is only 3 s old (maybe being set up)",
    ]);
  });

  test("another project's namespaces never share a project's prefix (project app vs app-api)", () => {
    const f = crashed("app");
    f.projects.push(project("app-api", { recorded: [{ name: "app-api-web-1", id: "x" }], networkContainers: [{ container: "app-api-web-1", netns: "stack-app-api.web-1", ownsNetns: true, hostVeths: [] }] }));
    f.netns.push({ name: "stack-app-api.web-1", inUse: false, ageMs: OLD });
    const plan = planLeftovers(f);
    const app = plan.projects.find((p) => p.project === "app");
    expect(app?.network).toEqual({ mode: "all", viaCleanLeftovers: true });
    expect(plan.projects.find((p) => p.project === "app-api")).toBeUndefined();
  });

  test("a recorded namespace of a project with no state that a process is in: its network part is skipped", () => {
    const f = crashed();
    f.netns[0]!.inUse = true;
    const plan = planLeftovers(f);
    expect(plan.projects[0]!.network).toEqual({ mode: "none" });
    expect(plan.skipped).toEqual(["project ghost: netns stack-ghost-web-1 is recorded for ghost-web-1, which is in no state, but a process is in it"]);
  });

  test("network records with nothing on the host are still cleaned (the records go)", () => {
    const f = facts({ projects: [project("ghost", { networks: [{ name: "ghost_default", bridge: "stkgone", external: false }] })] });
    const plan = planLeftovers(f);
    expect(plan.projects[0]!.network).toEqual({ mode: "all", viaCleanLeftovers: true });
    expect(plan.leftovers).toEqual(["project ghost: network records (nothing of them is on the host) (the project records no container)"]);
  });

  test("an empty stack/<project> cgroup of a known project with nothing else", () => {
    const f = facts({ projects: [project("ghost")], cgroups: [{ project: "ghost", processes: 0 }] });
    const plan = planLeftovers(f);
    expect(plan.projects).toEqual([{ project: "ghost", keep: [], containers: [], emptyCgroup: true, network: { mode: "none" }, strayNetns: [] }]);
    expect(plan.leftovers).toEqual(["project ghost: empty cgroup stack/ghost"]);
  });

  test("runtime state under this run dir that no project knows: stopped ones go, running ones are skipped", () => {
    const f = facts({
      projects: [project("demo", { recorded: [{ name: "demo-web-1", id: "w1" }] })],
      runtimeState: [
        { runtime: "runc", id: "w1", status: "running" },
        { runtime: "runc", id: "lost", status: "stopped" },
        { runtime: "runc", id: "alive", status: "running" },
      ],
    });
    const plan = planLeftovers(f);
    expect(plan.runtimeState).toEqual([{ runtime: "runc", id: "lost" }]);
    expect(plan.leftovers).toEqual(["runc state of container lost (no project records it)"]);
    expect(plan.skipped).toEqual([expect.stringMatching(/^runc container alive is running though no project records it/)]);
  });

  test("this state dir's nft chains are kept while any project records a network", () => {
    const f = facts({
      projects: [project("demo", { recorded: [{ name: "demo-web-1", id: "w1" }], networks: [{ name: "demo_default", bridge: "stkb", external: false }] })],
      nftChains: ["forward_abcd1234"],
    });
    expect(planLeftovers(f).firewall).toBe(false);
    expect(planLeftovers(facts({ nftChains: ["forward_abcd1234", "forward_ffff0000"] })).firewall).toBe(true);
    expect(planLeftovers(facts({ nftChains: ["forward_ffff0000"] })).firewall).toBe(false); // another state dir's
  });

  test("stack-named resources this state dir does not own are reported, never planned for removal", () => {
    const f = facts({
      projects: [project("demo", { recorded: [{ name: "demo-web-1", id: "w1" }], networks: [{ name: "demo_default", bridge: "stkb", external: false }] })],
      netns: [{ name: "stack-other-web-1", inUse: false, ageMs: OLD }, { name: "stack-busy-web-1", inUse: true, ageMs: OLD }],
      links: [{ name: "stkb", idle: true }, { name: "stkforeign", idle: true }, { name: "stkattached", idle: false }],
      cgroups: [{ project: "other", id: "x1", processes: 0 }, { project: "other", id: "x2", processes: 0 }, { project: "live", id: "y", processes: 4 }, { project: "bare", processes: 0 }],
      mounts: ["/s/projects/demo/containers/w1/rootfs", "/s/projects/zzz/elsewhere"],
    });
    const plan = planLeftovers(f);
    expect(plan.projects).toEqual([]);
    expect(plan.foreign).toEqual([
      "netns stack-other-web-1",
      "link stkforeign",
      "cgroup stack/bare",
      "cgroup stack/other (x1, x2)",
      "mount /s/projects/zzz/elsewhere (under the state dir, but of no container it records)",
    ]);
  });
});

describe("checkLeftovers", () => {
  test("none: two ok lines", () => {
    expect(checkLeftovers(planLeftovers(facts()), "/s")).toEqual([
      { name: "leftovers", status: "ok", detail: "nothing abandoned by /s", fix: "" },
      { name: "unowned", status: "ok", detail: "no stack-named resource on the host lacks an owner here", fix: "" },
    ]);
  });

  test("leftovers warn with `stack doctor --fix`; what was left alone is said", () => {
    const f = crashed();
    f.cgroups.push({ project: "ghost", id: "c9", processes: 1 });
    const [own] = checkLeftovers(planLeftovers(f), "/s");
    expect(own).toMatchObject({ name: "leftovers", status: "warn", fix: "stack doctor --fix" });
    expect(own!.detail).toMatch(/^5 left by earlier crashes: .*container c1.*; left alone: project ghost: container c9 has no record/);
  });

  test("unowned resources warn, naming them and how to remove them", () => {
    const [, foreign] = checkLeftovers(planLeftovers(facts({ netns: [{ name: "stack-x-y", inUse: false, ageMs: OLD }] })), "/s");
    expect(foreign).toMatchObject({ name: "unowned", status: "warn" });
    expect(foreign!.detail).toMatch(/1 stack-named resource that \/s does not own .*: netns stack-x-y$/);
    expect(foreign!.fix).toMatch(/ip netns del NAME/);
  });
});
