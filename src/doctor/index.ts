// `stack doctor`: gathers the host's facts and this state dir's leftovers
// (concurrently), judges them, and with `fix` cleans what is provably
// abandoned before judging the leftovers again.
import { join } from "node:path";
import { lockProject } from "../engine/lock.js";
import { LinuxNetworkHost, NetworkManager } from "../network/index.js";
import { openRuntime, OciRuntime, type RuntimeName } from "../runtime/index.js";
import { detectCgroupVersion, realCgroupFs, removeCgroupTree } from "../runtime/cgroup.js";
import { realCommandRunner } from "../fs/command-runner.js";
import { evaluateHost } from "./checks.js";
import type { CheckResult } from "./facts.js";
import { applyLeftoverPlan, type FixDeps, type FixOutcome } from "./fix.js";
import { findTool, gatherHostFacts } from "./gather.js";
import { gatherLeftoverFacts } from "./gather-leftovers.js";
import { checkLeftovers, planLeftovers } from "./leftovers.js";

export { evaluateHost } from "./checks.js";
export { planLeftovers, checkLeftovers } from "./leftovers.js";
export { renderJson, renderText } from "./render.js";
export type { CheckResult, CheckStatus, HostFacts } from "./facts.js";
export type { FixOutcome } from "./fix.js";

export interface DoctorOptions {
  stateDir: string;
  runDir: string;
  /** STACK_RUNTIME. */
  runtimeOverride?: string;
  fix?: boolean;
  /** Default /sys/fs/cgroup. */
  cgroupRoot?: string;
}

export interface DoctorReport {
  results: CheckResult[];
  /** What --fix did (undefined without --fix). */
  fixes?: FixOutcome;
}

function fixDeps(o: DoctorOptions): FixDeps {
  const cgroupRoot = o.cgroupRoot ?? "/sys/fs/cgroup";
  const networkHost = new LinuxNetworkHost();
  const network = new NetworkManager({ host: networkHost, stateDir: o.stateDir });
  let runtime: ReturnType<typeof openRuntime> | undefined;
  return {
    runtime: () => (runtime ??= openRuntime({ stateDir: o.stateDir, runDir: o.runDir, cgroupRoot, ...(o.runtimeOverride ? { runtimeOverride: o.runtimeOverride } : {}) })),
    network,
    networkHost,
    ociRuntime: (name) => {
      const binary = findTool(name);
      return binary ? new OciRuntime(realCommandRunner, { name: name as RuntimeName, binary }, join(o.runDir, name)) : undefined;
    },
    removeProjectCgroup: (project) => removeCgroupTree(realCgroupFs, cgroupRoot, detectCgroupVersion(realCgroupFs, cgroupRoot), `stack/${project}`),
    lock: (project) => lockProject(o.runDir, project, "doctor --fix", 0),
    replan: async () => planLeftovers(await gatherLeftoverFacts({ ...o, ownPid: process.pid })),
  };
}

export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  const [host, leftoverFacts] = await Promise.all([gatherHostFacts(o), gatherLeftoverFacts(o)]);
  let plan = planLeftovers(leftoverFacts);
  let fixes: FixOutcome | undefined;
  if (o.fix) {
    const anything = plan.projects.length > 0 || plan.runtimeState.length > 0 || plan.firewall;
    if (!anything) fixes = { done: [], failed: [] };
    else if (host.uid !== 0) fixes = { done: [], failed: ["--fix needs root: nothing was removed"] };
    else {
      fixes = await applyLeftoverPlan(fixDeps(o), plan);
      plan = planLeftovers(await gatherLeftoverFacts(o));
    }
  }
  // Without root, other users' processes (which namespace they are in) and the runtime's state are hidden: leftovers cannot be judged.
  const leftovers: CheckResult[] =
    host.uid === 0
      ? checkLeftovers(plan, o.stateDir)
      : [
          { name: "leftovers", status: "warn", detail: "not checked: needs root (which namespaces and cgroups are in use is hidden from other users)", fix: "run `stack doctor` as root" },
          { name: "unowned", status: "warn", detail: "not checked: needs root", fix: "run `stack doctor` as root" },
        ];
  return { results: [...evaluateHost(host), ...leftovers], ...(fixes ? { fixes } : {}) };
}
