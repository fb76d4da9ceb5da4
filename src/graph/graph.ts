// The service dependency graph (pure): StackModel in, a DAG with start levels
// out. Edges point from a service to what it needs started first.
//
// Edge sources: depends_on (with its condition), links, network_mode
// service:X, volumes_from service X. Determinism: nodes and edges are sorted
// before any walk, so levels, cycle reports and renderings are stable.
import { InvalidInputError } from "../errors.js";
import type { DependencyCondition, StackModel } from "../schema/model.js";

export type EdgeKind = "depends_on" | "links" | "network_mode" | "volumes_from";

export interface DependencyEdge {
  from: string; // the dependent
  to: string; // what it needs
  kind: EdgeKind;
  condition: DependencyCondition;
  /** `depends_on.X.restart: true`: `from` restarts when `to` restarts or is recreated. */
  restart: boolean;
  required: boolean;
}

export interface ServiceGraph {
  /** Service names, sorted. */
  nodes: string[];
  /** Sorted by from, then to, then kind. One edge per (from, to): the strongest condition wins. */
  edges: DependencyEdge[];
  /** Start levels: every service of level n depends only on services of earlier levels. */
  levels: string[][];
  /** Warnings about optional dependencies that were skipped. */
  warnings: string[];
}

const conditionStrength: Record<DependencyCondition, number> = {
  service_started: 0,
  service_healthy: 1,
  service_completed_successfully: 2,
};

function collectEdges(model: StackModel, warnings: string[]): DependencyEdge[] {
  const byKey = new Map<string, DependencyEdge>();
  const add = (edge: DependencyEdge): void => {
    if (!(edge.to in model.services)) {
      const disabled = edge.to in model.disabled_services;
      if (!edge.required) {
        warnings.push(`service "${edge.from}" depends on "${edge.to}", which is ${disabled ? "not enabled" : "not defined"}: skipped (required: false)`);
        return;
      }
      if (disabled) {
        const profiles = model.disabled_services[edge.to]!.profiles;
        throw new InvalidInputError(`service "${edge.from}" depends on "${edge.to}", which is not enabled by the active profiles`, {
          hint: profiles.length > 0 ? `activate one of its profiles (--profile ${profiles[0]}) or name it on the command line` : "name it on the command line",
        });
      }
      throw new InvalidInputError(`service "${edge.from}" depends on undefined service "${edge.to}" (${edge.kind})`, {
        hint: `define services.${edge.to} or remove the reference`,
      });
    }
    const key = `${edge.from}\0${edge.to}`;
    const prev = byKey.get(key);
    if (!prev) {
      byKey.set(key, edge);
      return;
    }
    // Merge: keep depends_on's explicit settings, the strongest condition, and any restart/required flag.
    const stronger = conditionStrength[edge.condition] > conditionStrength[prev.condition] ? edge.condition : prev.condition;
    byKey.set(key, {
      ...(prev.kind === "depends_on" ? prev : edge),
      condition: stronger,
      restart: prev.restart || edge.restart,
      required: prev.required || edge.required,
    });
  };

  for (const name of Object.keys(model.services).sort()) {
    const svc = model.services[name]!;
    for (const dep of Object.keys(svc.depends_on).sort()) {
      const d = svc.depends_on[dep]!;
      add({ from: name, to: dep, kind: "depends_on", condition: d.condition, restart: d.restart, required: d.required });
    }
    for (const link of svc.links) {
      add({ from: name, to: link.service, kind: "links", condition: "service_started", restart: false, required: true });
    }
    const nm = svc.network_mode;
    if (nm?.startsWith("service:")) {
      add({ from: name, to: nm.slice("service:".length), kind: "network_mode", condition: "service_started", restart: false, required: true });
    }
    for (const vf of svc.volumes_from) {
      if (vf.kind === "service") add({ from: name, to: vf.name, kind: "volumes_from", condition: "service_started", restart: false, required: true });
    }
  }
  return [...byKey.values()].sort((a, b) => (a.from === b.from ? (a.to < b.to ? -1 : a.to > b.to ? 1 : 0) : a.from < b.from ? -1 : 1));
}

/** Finds a cycle deterministically and returns its path, first node repeated at the end. */
export function findCycle(nodes: string[], edges: DependencyEdge[]): string[] | undefined {
  const out = new Map<string, string[]>();
  for (const n of nodes) out.set(n, []);
  for (const e of edges) out.get(e.from)?.push(e.to);
  for (const list of out.values()) list.sort();
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, "visiting");
    stack.push(n);
    for (const m of out.get(n) ?? []) {
      const s = state.get(m);
      if (s === "visiting") return [...stack.slice(stack.indexOf(m)), m];
      if (s === undefined) {
        const found = visit(m);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of [...nodes].sort()) {
    if (state.get(n) === undefined) {
      const found = visit(n);
      if (found) return found;
    }
  }
  return undefined;
}

function layer(nodes: string[], edges: DependencyEdge[]): string[][] {
  const remaining = new Map<string, Set<string>>();
  for (const n of nodes) remaining.set(n, new Set());
  for (const e of edges) remaining.get(e.from)!.add(e.to);
  const levels: string[][] = [];
  const placed = new Set<string>();
  while (placed.size < nodes.length) {
    const level = nodes.filter((n) => !placed.has(n) && [...remaining.get(n)!].every((d) => placed.has(d)));
    if (level.length === 0) break; // unreachable after the cycle check
    level.sort();
    for (const n of level) placed.add(n);
    levels.push(level);
  }
  return levels;
}

export function buildGraph(model: StackModel): ServiceGraph {
  const warnings: string[] = [];
  const nodes = Object.keys(model.services).sort();
  const edges = collectEdges(model, warnings);
  const cycle = findCycle(nodes, edges);
  if (cycle) {
    throw new InvalidInputError(`dependency cycle: ${cycle.join(" -> ")}`, {
      hint: "remove one of these depends_on, links, network_mode or volumes_from references",
    });
  }
  return { nodes, edges, levels: layer(nodes, edges), warnings };
}

/**
 * The services to act on: the named ones plus (unless noDeps) everything they
 * need, transitively. No names means every service.
 */
export function selectServices(graph: ServiceGraph, names: string[], noDeps = false): string[] {
  if (names.length === 0) return [...graph.nodes];
  for (const n of names) {
    if (!graph.nodes.includes(n)) {
      throw new InvalidInputError(`no such service: "${n}"`, { hint: `services are: ${graph.nodes.join(", ") || "(none)"}` });
    }
  }
  const chosen = new Set(names);
  if (!noDeps) {
    const pending = [...names];
    while (pending.length > 0) {
      const n = pending.pop()!;
      for (const e of graph.edges) if (e.from === n && !chosen.has(e.to)) {
        chosen.add(e.to);
        pending.push(e.to);
      }
    }
  }
  return graph.nodes.filter((n) => chosen.has(n));
}

/** Services that must restart when `name` restarts or is recreated (depends_on restart: true), transitively. */
export function restartDependents(graph: ServiceGraph, name: string): string[] {
  const out = new Set<string>();
  const pending = [name];
  while (pending.length > 0) {
    const n = pending.pop()!;
    for (const e of graph.edges) if (e.to === n && e.restart && !out.has(e.from)) {
      out.add(e.from);
      pending.push(e.from);
    }
  }
  return [...out].sort();
}

/** Start levels restricted to a selection. */
export function startLevels(graph: ServiceGraph, selection: string[]): string[][] {
  const set = new Set(selection);
  return graph.levels.map((l) => l.filter((n) => set.has(n))).filter((l) => l.length > 0);
}

/** Stop order: the reverse of the start levels. */
export function stopLevels(graph: ServiceGraph, selection: string[]): string[][] {
  return startLevels(graph, selection).reverse();
}
