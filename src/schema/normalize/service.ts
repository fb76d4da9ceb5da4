// One service → ServiceModel. A table keyed by the service key holds the
// transformer of each key (short forms → the long form, units fixed); keys
// stack accepts but does not act on are listed in `notActedOn` and produce
// one warning each.
import type {
  BuildModel,
  DeployModel,
  DevelopModel,
  DeviceModel,
  EnvFileModel,
  ExtraHostModel,
  FileReferenceModel,
  HealthcheckModel,
  LifecycleHookModel,
  LinkModel,
  ResourceSpec,
  RestartPolicy,
  ServiceModel,
  ServiceNetworkModel,
  UlimitModel,
  VolumesFromModel,
  WatchAction,
  PullPolicy,
  DependencyCondition,
} from "../model.js";
import { dottedPath, type PathSegment } from "../source.js";
import { fail, hostPath, type NormalizeContext } from "./context.js";
import { normalizePorts } from "./ports.js";
import { normalizeServiceVolumes } from "./volumes.js";
import { mapFrom, readers, scalarString, sortKeys, stringList, stringMap } from "./units.js";

type Raw = Record<string, unknown>;
type Transform = (svc: ServiceModel, value: unknown, path: PathSegment[], ctx: NormalizeContext, raw: Raw) => void;

/** Valid keys that stack keeps no field for and does not act on (one warning each). */
export const notActedOn = new Set([
  "blkio_config",
  "cpu_count",
  "cpu_percent",
  "cpu_rt_period",
  "cpu_rt_runtime",
  "credential_spec",
  "gpus",
  "isolation",
  "label_file",
  "models",
  "provider",
  "storage_opt",
  "use_api_socket",
]);

export function defaultServiceNetwork(): ServiceNetworkModel {
  return { aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} };
}

function isGitContext(s: string): boolean {
  return /^(https?:\/\/|git@|git:\/\/|ssh:\/\/|github\.com\/)/.test(s);
}

function extraHosts(value: unknown): ExtraHostModel[] {
  const out: ExtraHostModel[] = [];
  const add = (host: string, ip: string) => out.push({ host, ip: ip.replace(/^\[(.*)\]$/, "$1") });
  if (Array.isArray(value)) {
    for (const item of value.map(String)) {
      const eq = item.indexOf("=");
      const sep = eq >= 0 ? eq : item.indexOf(":");
      add(item.slice(0, sep), item.slice(sep + 1));
    }
  } else if (value !== null && typeof value === "object") {
    for (const [host, ips] of Object.entries(value as Raw)) for (const ip of stringList(ips)) add(host, ip);
  }
  return out;
}

function fileReferences(ctx: NormalizeContext, path: PathSegment[], value: unknown, kind: "secrets" | "configs"): FileReferenceModel[] {
  if (!Array.isArray(value)) return [];
  const targetOf = (source: string, target: string | undefined): string => {
    const t = target ?? source;
    if (t.startsWith("/")) return t;
    return kind === "secrets" ? `/run/secrets/${t}` : `/${t}`;
  };
  return value.map((v, i) => {
    if (typeof v === "string") return { source: v, target: targetOf(v, undefined) };
    const o = (v ?? {}) as Raw;
    const source = String(o.source);
    const ref: FileReferenceModel = { source, target: targetOf(source, typeof o.target === "string" ? o.target : undefined) };
    if (o.uid !== undefined) ref.uid = String(o.uid);
    if (o.gid !== undefined) ref.gid = String(o.gid);
    const mode = readers(ctx).fileMode([...path, i, "mode"], o.mode);
    if (mode !== undefined) ref.mode = mode;
    return ref;
  });
}

function build(ctx: NormalizeContext, path: PathSegment[], value: unknown): BuildModel {
  const r = readers(ctx);
  const o: Raw = typeof value === "string" ? { context: value } : ((value ?? {}) as Raw);
  const contextRaw = typeof o.context === "string" ? o.context : ".";
  const b: BuildModel = {
    context: isGitContext(contextRaw) ? contextRaw : hostPath(ctx, contextRaw),
    args: mapFrom(o.args, (k) => ctx.env[k] ?? null),
    labels: stringMap(o.labels),
    extra_hosts: extraHosts(o.extra_hosts),
    no_cache: r.bool([...path, "no_cache"], o.no_cache) ?? false,
    pull: r.bool([...path, "pull"], o.pull) ?? false,
    tags: stringList(o.tags),
    additional_contexts: stringMap(o.additional_contexts),
    secrets: fileReferences(ctx, [...path, "secrets"], o.secrets, "secrets"),
    cache_from: stringList(o.cache_from),
    cache_to: stringList(o.cache_to),
    platforms: stringList(o.platforms),
    ssh: Array.isArray(o.ssh) ? o.ssh.map(String) : Object.entries(stringMap(o.ssh)).map(([k, v]) => (v === "" ? k : `${k}=${v}`)),
  };
  for (const k of ["dockerfile", "dockerfile_inline", "target", "network", "isolation"] as const) if (typeof o[k] === "string") b[k] = o[k] as string;
  const shm = r.bytes([...path, "shm_size"], o.shm_size);
  if (shm !== undefined) b.shm_size = shm;
  const privileged = r.bool([...path, "privileged"], o.privileged);
  if (privileged !== undefined) b.privileged = privileged;
  return b;
}

function healthcheck(ctx: NormalizeContext, path: PathSegment[], value: unknown): HealthcheckModel {
  const r = readers(ctx);
  const o = (value ?? {}) as Raw;
  let test: string[] = typeof o.test === "string" ? ["CMD-SHELL", o.test] : Array.isArray(o.test) ? o.test.map(String) : [];
  let disable = r.bool([...path, "disable"], o.disable) ?? false;
  if (test[0] === "NONE") disable = true;
  if (disable) test = ["NONE"];
  if (test.length > 0 && !["CMD", "CMD-SHELL", "NONE"].includes(test[0]!)) {
    fail(ctx, [...path, "test"], `${JSON.stringify(test[0])} is not a healthcheck test kind`, 'start the list with "CMD", "CMD-SHELL" or "NONE", or write the test as one shell string');
  }
  return {
    test,
    interval: r.duration([...path, "interval"], o.interval) ?? 30_000,
    timeout: r.duration([...path, "timeout"], o.timeout) ?? 30_000,
    retries: r.integer([...path, "retries"], o.retries) ?? 3,
    start_period: r.duration([...path, "start_period"], o.start_period) ?? 0,
    start_interval: r.duration([...path, "start_interval"], o.start_interval) ?? 5_000,
    disable,
  };
}

function resources(ctx: NormalizeContext, path: PathSegment[], value: unknown): ResourceSpec & { devices?: unknown[] } {
  const r = readers(ctx);
  const o = (value ?? {}) as Raw;
  const out: ResourceSpec & { devices?: unknown[] } = {};
  const cpus = r.number([...path, "cpus"], o.cpus);
  if (cpus !== undefined) out.cpus = cpus;
  const memory = r.bytes([...path, "memory"], o.memory);
  if (memory !== undefined) out.memory = memory;
  const pids = r.integer([...path, "pids"], o.pids);
  if (pids !== undefined) out.pids = pids;
  if (Array.isArray(o.devices)) out.devices = o.devices;
  return out;
}

function deploy(ctx: NormalizeContext, path: PathSegment[], value: unknown): DeployModel {
  const r = readers(ctx);
  const o = (value ?? {}) as Raw;
  const res = (o.resources ?? {}) as Raw;
  const d: DeployModel = {
    labels: stringMap(o.labels),
    resources: { limits: resources(ctx, [...path, "resources", "limits"], res.limits), reservations: resources(ctx, [...path, "resources", "reservations"], res.reservations) },
  };
  if (typeof o.mode === "string") d.mode = o.mode;
  const replicas = r.integer([...path, "replicas"], o.replicas);
  if (replicas !== undefined) d.replicas = replicas;
  if (typeof o.endpoint_mode === "string") d.endpoint_mode = o.endpoint_mode;
  for (const k of ["update_config", "rollback_config", "placement"] as const) if (o[k] !== null && typeof o[k] === "object") d[k] = o[k] as Record<string, unknown>;
  if (o.restart_policy !== null && typeof o.restart_policy === "object") {
    const rp = o.restart_policy as Raw;
    const p = [...path, "restart_policy"];
    const policy: NonNullable<DeployModel["restart_policy"]> = { condition: rp.condition === "none" || rp.condition === "on-failure" ? rp.condition : "any" };
    const delay = r.duration([...p, "delay"], rp.delay);
    if (delay !== undefined) policy.delay = delay;
    const max = r.integer([...p, "max_attempts"], rp.max_attempts);
    if (max !== undefined) policy.max_attempts = max;
    const window = r.duration([...p, "window"], rp.window);
    if (window !== undefined) policy.window = window;
    d.restart_policy = policy;
  }
  return d;
}

function develop(ctx: NormalizeContext, path: PathSegment[], value: unknown): DevelopModel {
  const r = readers(ctx);
  const o = (value ?? {}) as Raw;
  const rules = Array.isArray(o.watch) ? (o.watch as Raw[]) : [];
  return {
    watch: rules.map((w, i) => {
      const p = [...path, "watch", i];
      const rule: DevelopModel["watch"][number] = {
        action: String(w.action) as WatchAction,
        path: hostPath(ctx, String(w.path)),
        ignore: stringList(w.ignore),
        include: stringList(w.include),
        initial_sync: r.bool([...p, "initial_sync"], w.initial_sync) ?? false,
      };
      if (typeof w.target === "string") rule.target = w.target;
      if (w.exec !== null && typeof w.exec === "object") {
        const e = w.exec as Raw;
        const exec: NonNullable<typeof rule.exec> = {
          command: typeof e.command === "string" ? ["/bin/sh", "-c", e.command] : stringList(e.command),
          environment: stringMap(e.environment),
        };
        if (typeof e.user === "string") exec.user = e.user;
        if (typeof e.working_dir === "string") exec.working_dir = e.working_dir;
        const privileged = r.bool([...p, "exec", "privileged"], e.privileged);
        if (privileged !== undefined) exec.privileged = privileged;
        rule.exec = exec;
      }
      return rule;
    }),
  };
}

/** `post_start` / `pre_stop`: each hook's command as written (a string is split into words when it runs). */
function lifecycleHooks(ctx: NormalizeContext, path: PathSegment[], value: unknown): LifecycleHookModel[] {
  const r = readers(ctx);
  return (Array.isArray(value) ? (value as Raw[]) : []).map((h, i) => {
    const hook: LifecycleHookModel = { command: typeof h.command === "string" ? h.command : stringList(h.command), environment: stringMap(h.environment) };
    if (typeof h.user === "string") hook.user = h.user;
    if (typeof h.working_dir === "string") hook.working_dir = h.working_dir;
    const privileged = r.bool([...path, i, "privileged"], h.privileged);
    if (privileged !== undefined) hook.privileged = privileged;
    return hook;
  });
}

function envFiles(ctx: NormalizeContext, path: PathSegment[], value: unknown): EnvFileModel[] {
  const items = value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
  return items.map((item, i) => {
    if (typeof item === "string") return { path: hostPath(ctx, item), required: true };
    const o = item as Raw;
    const model: EnvFileModel = { path: hostPath(ctx, String(o.path)), required: readers(ctx).bool([...path, i, "required"], o.required) ?? true };
    if (typeof o.format === "string") model.format = o.format;
    return model;
  });
}

function environment(ctx: NormalizeContext, path: PathSegment[], svc: ServiceModel, raw: Raw): Record<string, string | null> {
  const merged: Record<string, string | null> = {};
  svc.env_file.forEach((f, i) => {
    const values = ctx.readEnvFile(f.path, f.format);
    if (values === undefined) {
      if (f.required) {
        const at = Array.isArray(raw.env_file) ? [...path.slice(0, -1), "env_file", i] : [...path.slice(0, -1), "env_file"];
        fail(ctx, at, `env file "${f.path}" not found`, "create it, or mark it optional with `required: false`");
      }
      return;
    }
    Object.assign(merged, values);
  });
  Object.assign(merged, mapFrom(raw.environment, (k) => ctx.env[k] ?? null));
  return sortKeys(merged);
}

const transforms: Record<string, Transform> = {
  image: (s, v) => (s.image = String(v)),
  build: (s, v, p, ctx) => (s.build = build(ctx, p, v)),
  pull_policy: (s, v) => (s.pull_policy = String(v) as PullPolicy),
  platform: (s, v) => (s.platform = String(v)),
  profiles: (s, v) => (s.profiles = stringList(v)),
  command: (s, v) => {
    if (v !== null) s.command = typeof v === "string" ? v : stringList(v);
  },
  entrypoint: (s, v) => {
    if (v !== null) s.entrypoint = typeof v === "string" ? v : stringList(v);
  },
  working_dir: (s, v) => (s.working_dir = String(v)),
  user: (s, v) => (s.user = String(v)),
  group_add: (s, v) => (s.group_add = stringList(v)),
  env_file: () => {}, // read with environment (below)
  environment: () => {},
  labels: (s, v) => (s.labels = stringMap(v)),
  annotations: (s, v) => (s.annotations = stringMap(v)),
  container_name: (s, v) => (s.container_name = String(v)),
  hostname: (s, v) => (s.hostname = String(v)),
  domainname: (s, v) => (s.domainname = String(v)),
  mac_address: (s, v) => (s.mac_address = String(v)),
  depends_on: (s, v, p, ctx) => {
    const out: ServiceModel["depends_on"] = {};
    if (Array.isArray(v)) for (const name of v) out[String(name)] = { condition: "service_started", required: true, restart: false };
    else if (v !== null && typeof v === "object") {
      const r = readers(ctx);
      for (const [name, d] of Object.entries(v as Raw)) {
        const o = (d ?? {}) as Raw;
        out[name] = {
          condition: (typeof o.condition === "string" ? o.condition : "service_started") as DependencyCondition,
          required: r.bool([...p, name, "required"], o.required) ?? true,
          restart: r.bool([...p, name, "restart"], o.restart) ?? false,
        };
      }
    }
    s.depends_on = sortKeys(out);
  },
  links: (s, v) =>
    (s.links = stringList(v).map((l): LinkModel => {
      const [service, alias] = l.split(":") as [string, string?];
      return { service, alias: alias ?? service };
    })),
  post_start: (s, v, p, ctx) => (s.post_start = lifecycleHooks(ctx, p, v)),
  pre_stop: (s, v, p, ctx) => (s.pre_stop = lifecycleHooks(ctx, p, v)),
  external_links: (s, v) => (s.external_links = stringList(v)),
  volumes_from: (s, v) =>
    (s.volumes_from = stringList(v).map((entry): VolumesFromModel => {
      const parts = entry.split(":");
      const kind = parts[0] === "container" ? "container" : "service";
      const rest = kind === "container" ? parts.slice(1) : parts;
      return { kind, name: rest[0]!, read_only: rest[1] === "ro" };
    })),
  network_mode: (s, v) => (s.network_mode = String(v)),
  networks: (s, v, p, ctx) => {
    const out: Record<string, ServiceNetworkModel> = {};
    if (Array.isArray(v)) for (const n of v) out[String(n)] = defaultServiceNetwork();
    else if (v !== null && typeof v === "object") {
      const r = readers(ctx);
      for (const [name, cfg] of Object.entries(v as Raw)) {
        const o = (cfg ?? {}) as Raw;
        const n = defaultServiceNetwork();
        n.aliases = stringList(o.aliases);
        n.link_local_ips = stringList(o.link_local_ips);
        for (const k of ["ipv4_address", "ipv6_address", "mac_address", "interface_name"] as const) if (typeof o[k] === "string") n[k] = o[k] as string;
        n.priority = r.integer([...p, name, "priority"], o.priority) ?? 0;
        n.gw_priority = r.integer([...p, name, "gw_priority"], o.gw_priority) ?? 0;
        n.driver_opts = stringMap(o.driver_opts);
        out[name] = n;
      }
    }
    s.networks = sortKeys(out);
  },
  ports: (s, v, p, ctx) => (s.ports = normalizePorts(ctx, p, v)),
  expose: (s, v) => (s.expose = stringList(v)),
  extra_hosts: (s, v) => (s.extra_hosts = extraHosts(v)),
  dns: (s, v) => (s.dns = stringList(v)),
  dns_search: (s, v) => (s.dns_search = stringList(v)),
  dns_opt: (s, v) => (s.dns_opt = stringList(v)),
  volumes: (s, v, p, ctx) => (s.volumes = normalizeServiceVolumes(ctx, p, v)),
  tmpfs: (s, v) => (s.tmpfs = stringList(v)),
  secrets: (s, v, p, ctx) => (s.secrets = fileReferences(ctx, p, v, "secrets")),
  configs: (s, v, p, ctx) => (s.configs = fileReferences(ctx, p, v, "configs")),
  healthcheck: (s, v, p, ctx) => (s.healthcheck = healthcheck(ctx, p, v)),
  restart: (s, v) => (s.restart = (v === false ? "no" : String(v)) as RestartPolicy),
  stop_signal: (s, v) => (s.stop_signal = String(v)),
  stop_grace_period: (s, v, p, ctx) => (s.stop_grace_period = readers(ctx).duration(p, v)),
  init: (s, v, p, ctx) => (s.init = readers(ctx).bool(p, v)),
  tty: (s, v, p, ctx) => (s.tty = readers(ctx).bool(p, v) ?? false),
  stdin_open: (s, v, p, ctx) => (s.stdin_open = readers(ctx).bool(p, v) ?? false),
  read_only: (s, v, p, ctx) => (s.read_only = readers(ctx).bool(p, v) ?? false),
  privileged: (s, v, p, ctx) => (s.privileged = readers(ctx).bool(p, v) ?? false),
  attach: (s, v, p, ctx) => (s.attach = readers(ctx).bool(p, v) ?? true),
  cap_add: (s, v) => (s.cap_add = stringList(v)),
  cap_drop: (s, v) => (s.cap_drop = stringList(v)),
  security_opt: (s, v) => (s.security_opt = stringList(v)),
  sysctls: (s, v) => (s.sysctls = stringMap(v)),
  ulimits: (s, v, p, ctx) => {
    const r = readers(ctx);
    const out: Record<string, UlimitModel> = {};
    for (const [name, l] of Object.entries((v ?? {}) as Raw)) {
      if (l !== null && typeof l === "object") {
        const o = l as Raw;
        out[name] = { soft: r.integer([...p, name, "soft"], o.soft) ?? 0, hard: r.integer([...p, name, "hard"], o.hard) ?? 0 };
      } else {
        const n = r.integer([...p, name], l) ?? 0;
        out[name] = { soft: n, hard: n };
      }
    }
    s.ulimits = sortKeys(out);
  },
  devices: (s, v) =>
    (s.devices = (Array.isArray(v) ? v : []).map((d): DeviceModel => {
      if (typeof d === "string") {
        const [source, target, permissions] = d.split(":") as [string, string?, string?];
        return { source, target: target ?? source, permissions: permissions ?? "rwm" };
      }
      const o = d as Raw;
      return { source: String(o.source), target: String(o.target ?? o.source), permissions: typeof o.permissions === "string" ? o.permissions : "rwm" };
    })),
  device_cgroup_rules: (s, v) => (s.device_cgroup_rules = stringList(v)),
  ipc: (s, v) => (s.ipc = String(v)),
  pid: (s, v) => {
    if (v !== null) s.pid = String(v);
  },
  uts: (s, v) => (s.uts = String(v)),
  userns_mode: (s, v) => (s.userns_mode = String(v)),
  cgroup: (s, v) => (s.cgroup = String(v)),
  cgroup_parent: (s, v) => (s.cgroup_parent = String(v)),
  runtime: (s, v) => (s.runtime = String(v)),
  shm_size: (s, v, p, ctx) => (s.shm_size = readers(ctx).bytes(p, v)),
  oom_kill_disable: (s, v, p, ctx) => (s.oom_kill_disable = readers(ctx).bool(p, v)),
  oom_score_adj: (s, v, p, ctx) => (s.oom_score_adj = readers(ctx).integer(p, v)),
  mem_limit: (s, v, p, ctx) => (s.mem_limit = readers(ctx).bytes(p, v)),
  mem_reservation: (s, v, p, ctx) => (s.mem_reservation = readers(ctx).bytes(p, v)),
  memswap_limit: (s, v, p, ctx) => (s.memswap_limit = readers(ctx).bytes(p, v, true)),
  mem_swappiness: (s, v, p, ctx) => (s.mem_swappiness = readers(ctx).integer(p, v)),
  cpus: (s, v, p, ctx) => (s.cpus = readers(ctx).number(p, v)),
  cpu_shares: (s, v, p, ctx) => (s.cpu_shares = readers(ctx).integer(p, v)),
  cpu_quota: (s, v, p, ctx) => (s.cpu_quota = readers(ctx).integer(p, v)),
  cpu_period: (s, v, p, ctx) => (s.cpu_period = readers(ctx).integer(p, v)),
  cpuset: (s, v) => (s.cpuset = String(v)),
  pids_limit: (s, v, p, ctx) => (s.pids_limit = readers(ctx).integer(p, v)),
  scale: () => {}, // with deploy.replicas (below)
  deploy: (s, v, p, ctx) => {
    if (v !== null) s.deploy = deploy(ctx, p, v);
  },
  develop: (s, v, p, ctx) => (s.develop = develop(ctx, p, v)),
  logging: (s, v) => {
    const o = (v ?? {}) as Raw;
    s.logging = { options: stringMap(o.options), ...(typeof o.driver === "string" ? { driver: o.driver } : {}) };
  },
  // Resolved by the loader before normalization; nothing left to do.
  extends: () => {},
};

/** The service keys normalized into a ServiceModel field. */
export const normalizedKeys: ReadonlySet<string> = new Set(Object.keys(transforms));

/** A service with every field at the value Compose gives it when the key is absent. */
export function defaultService(name: string): ServiceModel {
  return {
    name,
    pull_policy: "missing",
    profiles: [],
    group_add: [],
    environment: {},
    env_file: [],
    labels: {},
    annotations: {},
    depends_on: {},
    links: [],
    external_links: [],
    volumes_from: [],
    networks: {},
    ports: [],
    expose: [],
    extra_hosts: [],
    dns: [],
    dns_search: [],
    dns_opt: [],
    volumes: [],
    tmpfs: [],
    secrets: [],
    configs: [],
    restart: "no",
    tty: false,
    stdin_open: false,
    read_only: false,
    privileged: false,
    cap_add: [],
    cap_drop: [],
    security_opt: [],
    sysctls: {},
    ulimits: {},
    devices: [],
    device_cgroup_rules: [],
    scale: 1,
    attach: true,
    extensions: {},
  };
}

/** The normalized service; warnings (keys not acted on) are appended to ctx.warnings. */
export function normalizeService(ctx: NormalizeContext, name: string, value: unknown): ServiceModel {
  const raw = (value ?? {}) as Raw;
  const path: PathSegment[] = ["services", name];
  const svc = defaultService(name);
  for (const key of Object.keys(raw).sort()) {
    const value = raw[key];
    if (key.startsWith("x-")) {
      svc.extensions[key] = value;
      continue;
    }
    if (value === undefined) continue;
    const transform = transforms[key];
    if (transform) transform(svc, value, [...path, key], ctx, raw);
    else if (notActedOn.has(key)) ctx.warnings.push(`${dottedPath([...path, key])}: accepted but not acted on by stack`);
    else fail(ctx, [...path, key], `unknown key "${key}"`, "this key is not part of the compose specification");
  }
  svc.env_file = envFiles(ctx, [...path, "env_file"], raw.env_file);
  svc.environment = environment(ctx, [...path, "environment"], svc, raw);
  if (raw.pull_policy === undefined && raw.build !== undefined && raw.image === undefined) svc.pull_policy = "build";
  const scale = readers(ctx).integer([...path, "scale"], raw.scale);
  svc.scale = scale ?? svc.deploy?.replicas ?? 1;
  if (Object.keys(svc.networks).length === 0 && svc.network_mode === undefined) svc.networks = { default: defaultServiceNetwork() };
  return svc;
}
