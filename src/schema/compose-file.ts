// What `stack config` prints: the model written back as a stack file, one
// that stack (and Docker Compose) read to the same model again, so that
// `stack config > resolved.yaml` gives a file to run from. The model keeps
// what a stack file has no key for — where it came from (`project_dir`,
// `files`, the active `profiles`), the services the profiles left out, each
// object's own key, an MTU read from driver_opts — and fixed units and long
// forms the file spells otherwise. This puts them back:
// - dropped: project_dir, files, profiles, disabled_services (Compose prints
//   none of them either), `name` of a service, `key` of a network, volume,
//   secret or config, a network's derived `mtu`;
// - `x-*` extensions go back where they were written (top level, service);
// - durations, milliseconds in the model, become `1m30s` (a bare number in a
//   stack file means seconds);
// - extra_hosts become `HOST=IP`, links `SERVICE[:ALIAS]`, volumes_from
//   `[container:]NAME[:ro]`;
// - after interpolation, every `$` in a value is written `$$`, so that
//   reading the file does not interpolate it a second time (a `$$` written
//   in the file, or a `$` in a variable's value).
// Pure: no I/O.
import type { DeployModel, Duration, ExtraHostModel, HealthcheckModel, LinkModel, ServiceModel, StackModel, VolumesFromModel } from "./model.js";

type Out = Record<string, unknown>;

/** `interpolated`: the model's values were interpolated (not `config --no-interpolate`), so a `$` in them is a literal one. */
export function composeFile(model: StackModel, interpolated = true): Out {
  const services: Out = {};
  for (const [name, service] of Object.entries(model.services)) services[name] = composeService(service);
  const file: Out = {
    name: model.name,
    services,
    networks: mapValues(model.networks, ({ key: _key, mtu: _mtu, ...network }) => network),
    volumes: mapValues(model.volumes, ({ key: _key, ...volume }) => volume),
    secrets: mapValues(model.secrets, ({ key: _key, ...secret }) => secret),
    configs: mapValues(model.configs, ({ key: _key, ...config }) => config),
    ...model.extensions,
  };
  return interpolated ? (escapeDollars(file) as Out) : file;
}

/** Every `$` in a string value (not in keys) as `$$`; what holds none is returned as it is, not copied. */
function escapeDollars(value: unknown): unknown {
  if (typeof value === "string") return value.includes("$") ? value.split("$").join("$$") : value;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const escaped = escapeDollars(item);
      if (escaped !== item) (copy ??= value.slice())[i] = escaped;
    }
    return copy ?? value;
  }
  const obj = value as Out;
  let copy: Out | undefined;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const item = obj[keys[i]!];
    const escaped = escapeDollars(item);
    if (escaped !== item) (copy ??= { ...obj })[keys[i]!] = escaped;
  }
  return copy ?? obj;
}

/** One service. A rest spread: `config` runs without the optimizing compiler, where it is the quickest copy (a loop over the keys took several times as long). */
function composeService(service: ServiceModel): Out {
  const { name: _name, extensions, healthcheck, stop_grace_period, extra_hosts, links, volumes_from, build, deploy, ...out } = service as ServiceModel & Out;
  out.extra_hosts = extra_hosts.length > 0 ? extra_hosts.map(hostEntry) : extra_hosts;
  out.links = links.length > 0 ? links.map(linkEntry) : links;
  out.volumes_from = volumes_from.length > 0 ? volumes_from.map(volumesFromEntry) : volumes_from;
  if (build !== undefined) out.build = build.extra_hosts.length > 0 ? { ...build, extra_hosts: build.extra_hosts.map(hostEntry) } : build;
  if (healthcheck !== undefined) out.healthcheck = composeHealthcheck(healthcheck);
  if (stop_grace_period !== undefined) out.stop_grace_period = formatDuration(stop_grace_period);
  if (deploy !== undefined) out.deploy = composeDeploy(deploy);
  for (const key in extensions) out[key] = extensions[key];
  return out;
}

function composeDeploy(deploy: DeployModel): Out | DeployModel {
  const policy = deploy.restart_policy;
  if (policy === undefined) return deploy;
  return {
    ...deploy,
    restart_policy: {
      ...policy,
      ...(policy.delay !== undefined ? { delay: formatDuration(policy.delay) } : {}),
      ...(policy.window !== undefined ? { window: formatDuration(policy.window) } : {}),
    },
  };
}

function composeHealthcheck(h: HealthcheckModel): Out {
  return {
    ...h,
    interval: formatDuration(h.interval),
    timeout: formatDuration(h.timeout),
    start_period: formatDuration(h.start_period),
    start_interval: formatDuration(h.start_interval),
  };
}

/** Milliseconds as a duration that a stack file (and Go's time.ParseDuration) reads back exactly: `1m30s`, `1h5s`, `250ms`, `0s`. */
export function formatDuration(ms: Duration): string {
  let left = Math.round(ms);
  if (left === 0) return "0s";
  const h = Math.floor(left / 3_600_000);
  left -= h * 3_600_000;
  const m = Math.floor(left / 60_000);
  left -= m * 60_000;
  const s = Math.floor(left / 1000);
  left -= s * 1000;
  return (h > 0 ? `${h}h` : "") + (m > 0 ? `${m}m` : "") + (s > 0 ? `${s}s` : "") + (left > 0 ? `${left}ms` : "");
}

function hostEntry(h: ExtraHostModel): string {
  return `${h.host}=${h.ip}`;
}

function linkEntry(l: LinkModel): string {
  return l.alias === l.service ? l.service : `${l.service}:${l.alias}`;
}

function volumesFromEntry(v: VolumesFromModel): string {
  return `${v.kind === "container" ? "container:" : ""}${v.name}${v.read_only ? ":ro" : ""}`;
}

function mapValues<T, U>(record: Record<string, T>, f: (value: T) => U): Record<string, U> {
  const out: Record<string, U> = {};
  for (const [k, v] of Object.entries(record)) out[k] = f(v);
  return out;
}
