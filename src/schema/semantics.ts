// Checks beyond the schema, on the normalized model: references between
// services and to top-level resources, host port conflicts, container names.
// Each check is a named function that returns problems; all are reported.
import { didYouMean } from "./did-you-mean.js";
import type { PortModel, ServiceModel, StackModel } from "./model.js";
import type { Location, PathSegment, Problem } from "./source.js";

type Check = (model: StackModel) => Problem[];

/**
 * Derived values that several checks ask for, kept while checkStack runs
 * (never longer: a model may change between two calls).
 */
let memo: { all: WeakMap<StackModel, Record<string, ServiceModel>>; sorted: WeakMap<object, Array<[string, unknown]>> } | undefined;

/** Every service, enabled or not. */
function allServices(model: StackModel): Record<string, ServiceModel> {
  let all = memo?.all.get(model);
  if (all === undefined) {
    all = { ...model.disabled_services, ...model.services };
    memo?.all.set(model, all);
  }
  return all;
}

/**
 * Services that can run together: the enabled ones. Before profiles are
 * applied (the loader checks first), a service whose profiles are all
 * inactive is left out: two alternatives in different profiles may publish
 * the same port.
 */
function runnableServices(model: StackModel): Record<string, ServiceModel> {
  const all = model.profiles.includes("*");
  return Object.fromEntries(Object.entries(model.services).filter(([, s]) => all || s.profiles.length === 0 || s.profiles.some((p) => model.profiles.includes(p))));
}

/** The entries in key order. */
function sorted<T>(o: Record<string, T>): Array<[string, T]> {
  let entries = memo?.sorted.get(o) as Array<[string, T]> | undefined;
  if (entries === undefined) {
    entries = Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    memo?.sorted.set(o, entries);
  }
  return entries;
}

/** `${VAR}` left as written (`config --no-interpolate`): the name is not known yet. */
function uninterpolated(name: string): boolean {
  return name.includes("$");
}

function unknownName(kind: string, name: string, known: string[], path: PathSegment[]): Problem {
  const hint = didYouMean(name, known) ?? (known.length > 0 ? `defined ${kind}s: ${known.sort().join(", ")}` : `define it under the top-level \`${kind}s:\``);
  return { path, message: `undefined ${kind} "${name}"`, hint };
}

const serviceReferences: Check = (model) => {
  const services = allServices(model);
  const names = Object.keys(services);
  const problems: Problem[] = [];
  const ref = (name: string, path: PathSegment[]) => {
    if (!Object.hasOwn(services, name) && !uninterpolated(name)) problems.push(unknownName("service", name, names, path));
  };
  for (const [name, s] of sorted(services)) {
    for (const [dep, d] of sorted(s.depends_on)) if (d.required) ref(dep, ["services", name, "depends_on", dep]);
    s.links.forEach((l, i) => ref(l.service, ["services", name, "links", i]));
    s.volumes_from.forEach((v, i) => {
      if (v.kind === "service") ref(v.name, ["services", name, "volumes_from", i]);
    });
    for (const key of ["network_mode", "ipc", "pid"] as const) {
      const value = s[key];
      if (value?.startsWith("service:")) ref(value.slice("service:".length), ["services", name, key]);
    }
  }
  return problems;
};

const resourceReferences: Check = (model) => {
  const problems: Problem[] = [];
  for (const [name, s] of sorted(allServices(model))) {
    for (const net of Object.keys(s.networks).sort()) {
      if (!Object.hasOwn(model.networks, net)) problems.push(unknownName("network", net, Object.keys(model.networks), ["services", name, "networks", net]));
    }
    s.volumes.forEach((v, i) => {
      if (v.type === "volume" && v.source !== undefined && !Object.hasOwn(model.volumes, v.source) && !uninterpolated(v.source)) {
        const p = unknownName("volume", v.source, Object.keys(model.volumes), ["services", name, "volumes", i]);
        if (!p.hint?.startsWith("did you mean")) p.hint = `define it under the top-level \`volumes:\`, or write ./${v.source} for a folder of the project`;
        problems.push(p);
      }
    });
    for (const kind of ["secrets", "configs"] as const) {
      s[kind].forEach((r, i) => {
        if (!Object.hasOwn(model[kind], r.source)) problems.push(unknownName(kind.slice(0, -1), r.source, Object.keys(model[kind]), ["services", name, kind, i]));
      });
    }
  }
  return problems;
};

const wildcard = new Set([undefined, "", "0.0.0.0", "::"]);

/** The fixed host port, if any: a host range (stack picks a free port in it) and port 0 (random) cannot clash. */
function hostPorts(p: PortModel): number[] {
  if (p.published === undefined || !/^\d+$/.test(p.published)) return [];
  const n = Number(p.published);
  return n === 0 ? [] : [n];
}

const portConflicts: Check = (model) => {
  const problems: Problem[] = [];
  // By port and protocol, each list in the order the ports were taken (the first clash is reported).
  const takenBy = new Map<string, Array<{ service: string; port: number; protocol: string; ip: string | undefined }>>();
  for (const [name, s] of sorted(runnableServices(model))) {
    for (const p of s.ports) {
      for (const port of hostPorts(p)) {
        const key = `${port}/${p.protocol}`;
        let taken = takenBy.get(key);
        if (taken === undefined) takenBy.set(key, (taken = []));
        const clash = taken.find((t) => t.service !== name && t.port === port && t.protocol === p.protocol && (t.ip === p.host_ip || wildcard.has(t.ip) || wildcard.has(p.host_ip)));
        if (clash) {
          const where = p.host_ip && !wildcard.has(p.host_ip) ? `${p.host_ip}:` : "";
          problems.push({
            path: ["services", name, "ports"],
            message: `host port "${where}${port}/${p.protocol}" is also published by service "${clash.service}"`,
            hint: "publish a different host port, or leave the host port out to get a free one",
          });
        }
        taken.push({ service: name, port, protocol: p.protocol, ip: p.host_ip });
      }
    }
  }
  return problems;
};

const containerNames: Check = (model) => {
  const problems: Problem[] = [];
  const owner = new Map<string, string>();
  for (const [name, s] of sorted(runnableServices(model))) {
    if (s.container_name === undefined) continue;
    const path = ["services", name, "container_name"];
    const other = owner.get(s.container_name);
    if (other !== undefined) problems.push({ path, message: `container name "${s.container_name}" is also used by service "${other}"`, hint: "container names must be unique; remove container_name to get <project>-<service>-N" });
    else owner.set(s.container_name, name);
    if (s.scale > 1) problems.push({ path, message: `container name "${s.container_name}" cannot be shared by ${s.scale} replicas`, hint: "remove container_name, or set scale to 1" });
  }
  return problems;
};

const imageOrBuild: Check = (model) =>
  sorted(allServices(model))
    .filter(([, s]) => s.image === undefined && s.build === undefined)
    .map(([name]) => ({ path: ["services", name], message: "has neither an image nor a build context", hint: "add `image: NAME[:TAG]` or `build: ./DIR`" }));

const networkModeWithNetworks: Check = (model) =>
  sorted(allServices(model))
    .filter(([, s]) => s.network_mode !== undefined && Object.keys(s.networks).length > 0)
    .map(([name, s]) => ({
      path: ["services", name, "network_mode"],
      message: `network_mode "${s.network_mode}" cannot be combined with networks (${Object.keys(s.networks).sort().join(", ")})`,
      hint: "remove one of them",
    }));

export const checks: Record<string, Check> = { imageOrBuild, networkModeWithNetworks, serviceReferences, resourceReferences, portConflicts, containerNames };

export function checkStack(model: StackModel, locate?: (path: PathSegment[]) => Location | undefined): Problem[] {
  let problems: Problem[];
  memo = { all: new WeakMap(), sorted: new WeakMap() };
  try {
    problems = Object.values(checks).flatMap((check) => check(model));
  } finally {
    memo = undefined;
  }
  if (locate) for (const p of problems) p.location ??= nearestLocation(p.path, locate);
  return problems;
}

/** The model's paths may not exist in the file as written (`depends_on: [db]` has no `depends_on.db`): locate the nearest ancestor. */
function nearestLocation(path: PathSegment[], locate: (path: PathSegment[]) => Location | undefined): Location | undefined {
  for (let n = path.length; n > 0; n--) {
    const at = locate(path.slice(0, n));
    if (at) return at;
  }
  return undefined;
}
