// Builds a StackModel from a partial JSON description (the golden cases'
// model.json): every field that a case leaves out gets its normalized default,
// so a case states only what it is about.
import type {
  DependencyModel,
  DeployModel,
  HealthcheckModel,
  NetworkModel,
  PortModel,
  SecretOrConfigModel,
  ServiceModel,
  ServiceVolumeModel,
  StackModel,
  VolumeModel,
} from "../../../src/schema/model.js";
import { makeService, makeStack } from "../../helpers/model.js";

type Loose = Record<string, unknown>;

export interface PartialStack {
  name?: string;
  services?: Record<string, Loose>;
  volumes?: Record<string, Loose>;
  networks?: Record<string, Loose>;
  secrets?: Record<string, Loose>;
  configs?: Record<string, Loose>;
  extensions?: Record<string, unknown>;
}

function healthcheck(h: Loose): HealthcheckModel {
  return { interval: 30_000, timeout: 30_000, retries: 3, start_period: 0, start_interval: 5_000, disable: false, test: [], ...h } as HealthcheckModel;
}

function deploy(d: Loose): DeployModel {
  const resources = (d.resources ?? {}) as Loose;
  return { labels: {}, ...d, resources: { limits: {}, reservations: {}, ...resources } } as DeployModel;
}

function serviceVolume(v: Loose): ServiceVolumeModel {
  const base = { read_only: false, ...v };
  if (v.type === "volume") return { volume: { nocopy: false }, ...base } as ServiceVolumeModel;
  if (v.type === "bind") return { bind: { create_host_path: true }, ...base } as ServiceVolumeModel;
  if (v.type === "tmpfs") return { tmpfs: {}, ...base } as ServiceVolumeModel;
  return base as ServiceVolumeModel;
}

export function service(name: string, s: Loose = {}): ServiceModel {
  const over: Loose = { ...s };
  // A built service has no image unless the case names one.
  if (s.build) {
    over.build = { args: {}, labels: {}, extra_hosts: [], no_cache: false, pull: false, tags: [], additional_contexts: {}, secrets: [], cache_from: [], cache_to: [], platforms: [], ssh: [], ...(s.build as Loose) };
    if (!("image" in s)) over.image = undefined;
  }
  if (s.healthcheck) over.healthcheck = healthcheck(s.healthcheck as Loose);
  if (s.deploy) over.deploy = deploy(s.deploy as Loose);
  if (s.volumes) over.volumes = (s.volumes as Loose[]).map(serviceVolume);
  if (s.ports) over.ports = (s.ports as Loose[]).map((p) => ({ protocol: "tcp", mode: "ingress", ...p }) as PortModel);
  if (s.depends_on) {
    over.depends_on = Object.fromEntries(
      Object.entries(s.depends_on as Record<string, Loose>).map(([k, d]) => [k, { condition: "service_started", required: true, restart: false, ...d } as DependencyModel]),
    );
  }
  return makeService(name, over as Partial<ServiceModel>);
}

export function volume(key: string, v: Loose = {}): VolumeModel {
  return { key, name: `demo_${key}`, driver: "local", driver_opts: {}, external: false, labels: {}, ...v } as VolumeModel;
}

function fileSource(key: string, v: Loose): SecretOrConfigModel {
  return { key, name: `demo_${key}`, external: false, labels: {}, ...v } as SecretOrConfigModel;
}

function network(key: string, n: Loose): NetworkModel {
  return { key, name: `demo_${key}`, driver: "bridge", driver_opts: {}, external: false, internal: false, attachable: false, enable_ipv6: false, ipam: { config: [], options: {} }, labels: {}, ...n } as NetworkModel;
}

const mapValues = <T>(record: Record<string, Loose> | undefined, f: (k: string, v: Loose) => T): Record<string, T> =>
  Object.fromEntries(Object.entries(record ?? {}).map(([k, v]) => [k, f(k, v)]));

export function stackFrom(partial: PartialStack): StackModel {
  const services = Object.entries(partial.services ?? {}).map(([name, s]) => service(name, s));
  const base = makeStack(services, { name: partial.name ?? "demo" });
  return {
    ...base,
    volumes: mapValues(partial.volumes, volume),
    secrets: mapValues(partial.secrets, fileSource),
    configs: mapValues(partial.configs, fileSource),
    networks: partial.networks ? mapValues(partial.networks, network) : base.networks,
    extensions: partial.extensions ?? {},
  };
}
