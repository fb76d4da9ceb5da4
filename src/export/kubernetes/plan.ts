// The decisions taken once for the whole stack before any object is built:
// which workload kind each service becomes, which ports its Service serves,
// and where each named volume's storage lives.
//
// Workload rule (override: `x-kubernetes: {workload: …}` on the service):
//   1. a service that another service waits for with
//      `condition: service_completed_successfully` → Job;
//   2. a service that mounts a named, non-external volume read-write → StatefulSet;
//   3. anything else → Deployment.
// Storage rule: a named volume mounted by exactly one service, that service
// being a StatefulSet, becomes a volumeClaimTemplate of it (one claim per
// replica). Every other named, non-external volume becomes one shared
// PersistentVolumeClaim, like a Compose volume is one store shared by all
// containers that mount it.
import type { ServiceModel, StackModel } from "../../schema/model.js";
import { serviceWorkload, type WorkloadKind } from "./extension.js";

export interface PortSpec {
  port: number;
  protocol: "TCP" | "UDP" | "SCTP";
  name?: string;
  appProtocol?: string;
}

export interface StackPlan {
  workloads: Map<string, WorkloadKind>;
  /** Ports each service listens on (`ports` targets and `expose`), sorted, unique. */
  ports: Map<string, PortSpec[]>;
  /** Volume keys turned into claim templates, by StatefulSet service. */
  claimTemplates: Map<string, string[]>;
  /** Named, non-external volumes that become a PersistentVolumeClaim object. */
  sharedClaims: string[];
  /** How many pods (replicas of every service) mount each named volume. */
  volumePods: Map<string, number>;
  /** Notes about a service's ports that could not be read. */
  portNotes: Map<string, string[]>;
}

function byName<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const exposePattern = /^([0-9]{1,5})(?:-([0-9]{1,5}))?(?:\/(tcp|udp|sctp))?$/i;

function portsOf(service: ServiceModel, notes: string[]): PortSpec[] {
  const found = new Map<string, PortSpec>();
  const add = (spec: PortSpec) => {
    const key = `${spec.port}/${spec.protocol}`;
    if (!found.has(key)) found.set(key, spec);
  };
  for (const p of service.ports) {
    add({
      port: p.target,
      protocol: p.protocol.toUpperCase() as PortSpec["protocol"],
      ...(p.name ? { name: p.name } : {}),
      ...(p.app_protocol ? { appProtocol: p.app_protocol } : {}),
    });
  }
  for (const e of service.expose) {
    const m = exposePattern.exec(String(e).trim());
    if (!m) {
      notes.push(`expose "${e}" (not a port or port range)`);
      continue;
    }
    const first = Number(m[1]);
    const last = m[2] ? Number(m[2]) : first;
    for (let port = first; port <= last; port++) add({ port, protocol: (m[3] ?? "tcp").toUpperCase() as PortSpec["protocol"] });
  }
  return [...found.values()].sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}

function mountsNamedVolumeReadWrite(model: StackModel, service: ServiceModel): boolean {
  return service.volumes.some((v) => v.type === "volume" && v.source !== undefined && !v.read_only && model.volumes[v.source]?.external === false);
}

export function planStack(model: StackModel): StackPlan {
  const services = byName(model.services);
  const awaitedJobs = new Set<string>();
  for (const [, s] of services) {
    for (const [dep, d] of byName(s.depends_on)) if (d.condition === "service_completed_successfully") awaitedJobs.add(dep);
  }
  const workloads = new Map<string, WorkloadKind>();
  const ports = new Map<string, PortSpec[]>();
  const portNotes = new Map<string, string[]>();
  for (const [name, s] of services) {
    workloads.set(name, serviceWorkload(s) ?? (awaitedJobs.has(name) ? "Job" : mountsNamedVolumeReadWrite(model, s) ? "StatefulSet" : "Deployment"));
    const notes: string[] = [];
    ports.set(name, portsOf(s, notes));
    portNotes.set(name, notes);
  }
  const users = new Map<string, Set<string>>();
  const volumePods = new Map<string, number>();
  for (const [name, s] of services) {
    for (const source of new Set(s.volumes.flatMap((v) => (v.type === "volume" && v.source !== undefined ? [v.source] : [])))) {
      if (!users.has(source)) users.set(source, new Set());
      users.get(source)!.add(name);
      volumePods.set(source, (volumePods.get(source) ?? 0) + s.scale);
    }
  }
  const claimTemplates = new Map<string, string[]>();
  const sharedClaims: string[] = [];
  for (const [key, volume] of byName(model.volumes)) {
    if (volume.external) continue;
    const who = [...(users.get(key) ?? [])];
    if (who.length === 1 && workloads.get(who[0]!) === "StatefulSet") {
      const list = claimTemplates.get(who[0]!) ?? [];
      list.push(key);
      claimTemplates.set(who[0]!, list);
    } else {
      sharedClaims.push(key);
    }
  }
  return { workloads, ports, claimTemplates, sharedClaims, volumePods, portNotes };
}
