// Reconcile planning (pure): the desired services (model + selection) against
// the containers that exist (from the project's state) → a list of actions.
// The executor in up.ts applies them; `up --dry-run` prints them, and for each
// recreate, which fields changed.
import type { ServiceGraph } from "../graph/graph.js";
import { restartDependents } from "../graph/graph.js";
import type { ServiceModel, StackModel } from "../schema/model.js";

export interface ActualContainer {
  name: string;
  service: string;
  index: number;
  configHash: string;
  /** The service config the container was made from (canonical JSON), to explain a recreate. */
  config: unknown;
  status: "created" | "running" | "paused" | "exited";
}

export type Action =
  | { kind: "create"; service: string; index: number; name: string }
  | { kind: "recreate"; service: string; index: number; name: string; changes: string[] }
  | { kind: "start"; service: string; index: number; name: string }
  | { kind: "keep"; service: string; index: number; name: string }
  | { kind: "restart"; service: string; index: number; name: string; because: string }
  | { kind: "remove"; service: string; index: number; name: string; reason: "orphan" | "scale" };

export interface PlanOptions {
  /** Services to bring up (already expanded with their dependencies unless --no-deps). */
  selection: string[];
  forceRecreate?: boolean;
  noRecreate?: boolean;
  removeOrphans?: boolean;
  noStart?: boolean;
  /** --scale SERVICE=N */
  scale?: Record<string, number>;
  /** The config hash of each desired service (computed by the caller with the image digest). */
  hashes: Record<string, string>;
}

export interface Plan {
  actions: Action[];
  /** Containers of services no longer in the stack file, left alone (warned about) unless removeOrphans. */
  orphans: string[];
}

export function containerName(project: string, service: ServiceModel, index: number): string {
  return service.container_name ?? `${project}-${service.name}-${index}`;
}

/** Dotted paths whose values differ between two JSON values (objects walked, arrays compared whole). */
export function diffConfig(before: unknown, after: unknown, prefix = ""): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffConfig(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix || "(whole config)"];
}

export function planUp(model: StackModel, graph: ServiceGraph, actual: ActualContainer[], opts: PlanOptions): Plan {
  const actions: Action[] = [];
  const byService = new Map<string, ActualContainer[]>();
  for (const c of [...actual].sort((a, b) => a.index - b.index)) {
    const list = byService.get(c.service) ?? [];
    list.push(c);
    byService.set(c.service, list);
  }
  const recreated = new Set<string>();

  for (const name of [...opts.selection].sort()) {
    const svc = model.services[name]!;
    const replicas = opts.scale?.[name] ?? svc.scale;
    const existing = byService.get(name) ?? [];
    for (let index = 1; index <= replicas; index++) {
      const cname = containerName(model.name, svc, index);
      const have = existing.find((c) => c.index === index);
      if (!have) {
        actions.push({ kind: "create", service: name, index, name: cname });
        continue;
      }
      const changed = have.configHash !== opts.hashes[name];
      if (opts.forceRecreate || (changed && !opts.noRecreate)) {
        const changes = opts.forceRecreate && !changed ? ["(--force-recreate)"] : diffConfig(have.config, JSON.parse(JSON.stringify(svc)));
        actions.push({ kind: "recreate", service: name, index, name: cname, changes: changes.length > 0 ? changes : ["image"] });
        recreated.add(name);
      } else if (have.status === "running" || have.status === "paused" || opts.noStart) {
        actions.push({ kind: "keep", service: name, index, name: have.name });
      } else {
        actions.push({ kind: "start", service: name, index, name: have.name });
      }
    }
    for (const c of existing) if (c.index > replicas) actions.push({ kind: "remove", service: name, index: c.index, name: c.name, reason: "scale" });
  }

  // Dependents that asked to restart with a recreated dependency, when they are otherwise kept.
  for (const dep of [...recreated].sort()) {
    for (const dependent of restartDependents(graph, dep)) {
      for (let i = 0; i < actions.length; i++) {
        const a = actions[i]!;
        if (a.service === dependent && a.kind === "keep") actions[i] = { kind: "restart", service: a.service, index: a.index, name: a.name, because: dep };
      }
    }
  }

  const orphans: string[] = [];
  for (const c of [...actual].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (c.service in model.services) continue;
    if (opts.removeOrphans) actions.push({ kind: "remove", service: c.service, index: c.index, name: c.name, reason: "orphan" });
    else orphans.push(c.name);
  }
  return { actions, orphans };
}

/** One line per action, as `up --dry-run` prints them. */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case "create":
      return `create   ${a.name}`;
    case "recreate":
      return `recreate ${a.name}  (changed: ${a.changes.join(", ")})`;
    case "start":
      return `start    ${a.name}`;
    case "keep":
      return `running  ${a.name}  (unchanged)`;
    case "restart":
      return `restart  ${a.name}  (its dependency ${a.because} is recreated)`;
    case "remove":
      return `remove   ${a.name}  (${a.reason === "orphan" ? "orphan: its service is no longer in the stack file" : "scaled down"})`;
  }
}
