// `stack down`: stop containers in reverse dependency order, remove them, then
// the project's networks (and named volumes with -v). Works from the recorded
// state, so containers of services no longer in the stack file are found too.
import { buildGraph, stopLevels } from "../graph/graph.js";
import type { StackModel } from "../schema/model.js";
import type { EngineDeps } from "./up.js";

export interface VolumePort {
  /** Removes the project's named volumes (external ones never); returns the names removed. */
  removeProjectVolumes(model: StackModel): Promise<string[]>;
}

export interface DownOptions {
  removeOrphans?: boolean;
  volumes?: boolean;
  timeoutMs?: number;
}

export async function down(deps: EngineDeps & { volumes: VolumePort }, model: StackModel, opts: DownOptions): Promise<void> {
  const state = deps.state.read();
  const records = Object.values(state.containers);
  const inModel = records.filter((r) => r.service in model.services);
  const orphans = records.filter((r) => !(r.service in model.services));
  if (orphans.length > 0 && !opts.removeOrphans) {
    deps.warn(`found orphan containers (${orphans.map((o) => o.name).sort().join(", ")}) for this project; run with --remove-orphans to remove them`);
  }

  const graph = buildGraph(model);
  const services = [...new Set(inModel.map((r) => r.service))];
  const levels = stopLevels(graph, services);
  const batches: string[][] = [];
  if (opts.removeOrphans && orphans.length > 0) batches.push(orphans.map((o) => o.name));
  for (const level of levels) batches.push(inModel.filter((r) => level.includes(r.service)).map((r) => r.name));

  // Levels are stopped in order (a dependent before what it depends on); a stopped container's
  // removal (runtime state, mounts, network) goes on while the next level stops.
  const removals: Array<Promise<void>> = [];
  const remove = async (name: string) => {
    const r = state.containers[name]!;
    deps.progress({ service: r.service, container: name, phase: "removing" });
    await deps.containers.remove(name, { volumes: !!opts.volumes });
    delete state.containers[name];
    deps.state.write(state);
    deps.progress({ service: r.service, container: name, phase: "removed" });
  };
  let stopFailure: unknown;
  try {
    for (const batch of batches) {
      await Promise.all(batch.sort().map(async (name) => {
        const r = state.containers[name]!;
        deps.progress({ service: r.service, container: name, phase: "stopping" });
        await deps.containers.stop(name, opts.timeoutMs);
        const removal = remove(name);
        removal.catch(() => undefined); // reported below, once every removal is settled; meanwhile no unhandled rejection ends the process
        removals.push(removal);
      }));
    }
  } catch (e) {
    stopFailure = e;
  }
  // Every removal started is waited for; a stop's failure, else the first removal's, is reported.
  const failed = (await Promise.allSettled(removals)).find((x): x is PromiseRejectedResult => x.status === "rejected");
  if (stopFailure !== undefined) throw stopFailure;
  if (failed) throw failed.reason;
  await deps.networks.removeUnused(model.name);
  if (opts.volumes) {
    for (const v of await deps.volumes.removeProjectVolumes(model)) deps.progress({ service: "", container: v, phase: "removed", detail: "volume" });
  }
}
