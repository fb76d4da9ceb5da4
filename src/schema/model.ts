// StackModel: the one typed, fully normalized form of a stack that every later
// stage (graph, image, network, runtime, engine, export) consumes.
//
// Contract: no short forms remain. Keys keep the compose-spec names
// (snake_case) so that `stack config` prints a file Compose users recognise.
// Units are fixed: every duration is a number of milliseconds, every byte
// size a number of bytes. Paths on the host are absolute. Maps whose order
// can reach output are built with sorted keys.

export type Duration = number; // milliseconds
export type Bytes = number; // bytes

export interface StackModel {
  /** Project name, normalized to [a-z0-9][a-z0-9_-]*. */
  name: string;
  /** Absolute project directory (relative paths were resolved against it). */
  project_dir: string;
  /** The stack files that were loaded, in merge order (absolute, or "-"). */
  files: string[];
  /** Active profiles. */
  profiles: string[];
  services: Record<string, ServiceModel>;
  /** Services defined but not enabled by the active profiles. */
  disabled_services: Record<string, ServiceModel>;
  networks: Record<string, NetworkModel>;
  volumes: Record<string, VolumeModel>;
  secrets: Record<string, SecretOrConfigModel>;
  configs: Record<string, SecretOrConfigModel>;
  /** Top-level `x-*` extensions, verbatim. */
  extensions: Record<string, unknown>;
}

export interface ServiceModel {
  name: string;
  image?: string;
  build?: BuildModel;
  pull_policy: PullPolicy;
  platform?: string;
  profiles: string[];

  /** Shell string as written, or the exec-form list. `undefined` = image default; `[]` = explicitly empty (`!reset` / `command: []`). */
  command?: string | string[];
  entrypoint?: string | string[];
  working_dir?: string;
  user?: string;
  group_add: string[];
  /** Final environment: env_file values, then `environment` over them. A key whose value is `null` was declared without value and is unset. */
  environment: Record<string, string | null>;
  env_file: EnvFileModel[];
  labels: Record<string, string>;
  annotations: Record<string, string>;

  container_name?: string;
  hostname?: string;
  domainname?: string;
  mac_address?: string;

  depends_on: Record<string, DependencyModel>;
  links: LinkModel[];
  external_links: string[];
  volumes_from: VolumesFromModel[];

  network_mode?: string; // "none" | "host" | "bridge" | "service:NAME" | "container:NAME"
  networks: Record<string, ServiceNetworkModel>;
  ports: PortModel[];
  expose: string[];
  extra_hosts: ExtraHostModel[];
  dns: string[];
  dns_search: string[];
  dns_opt: string[];

  volumes: ServiceVolumeModel[];
  tmpfs: string[];
  secrets: FileReferenceModel[];
  configs: FileReferenceModel[];

  healthcheck?: HealthcheckModel;
  restart: RestartPolicy;
  stop_signal?: string;
  stop_grace_period?: Duration;
  init?: boolean;
  tty: boolean;
  stdin_open: boolean;
  read_only: boolean;
  privileged: boolean;
  cap_add: string[];
  cap_drop: string[];
  security_opt: string[];
  sysctls: Record<string, string>;
  ulimits: Record<string, UlimitModel>;
  devices: DeviceModel[];
  device_cgroup_rules: string[];
  ipc?: string;
  pid?: string;
  uts?: string;
  userns_mode?: string;
  cgroup?: string;
  cgroup_parent?: string;
  runtime?: string;
  shm_size?: Bytes;
  oom_kill_disable?: boolean;
  oom_score_adj?: number;

  // Resources (legacy top-level keys, kept as written; deploy.resources separately).
  mem_limit?: Bytes;
  mem_reservation?: Bytes;
  memswap_limit?: Bytes; // -1 = unlimited
  mem_swappiness?: number;
  cpus?: number;
  cpu_shares?: number;
  cpu_quota?: number;
  cpu_period?: number;
  cpuset?: string;
  pids_limit?: number;

  /** Number of replicas: `scale`, else `deploy.replicas`, else 1. */
  scale: number;
  deploy?: DeployModel;
  develop?: DevelopModel;
  logging?: LoggingModel;
  attach: boolean;

  /** Commands run in the container once it started (`post_start`) and before it stops (`pre_stop`), in order; absent when the file has none. */
  post_start?: LifecycleHookModel[];
  pre_stop?: LifecycleHookModel[];

  /** Service-level `x-*` extensions, verbatim. */
  extensions: Record<string, unknown>;
}

export interface LifecycleHookModel {
  /** Shell string as written (split into words when it runs, as `command:` is; no shell runs it), or the exec-form list. */
  command: string | string[];
  /** Default: the service's user. */
  user?: string;
  privileged?: boolean;
  /** Default: the service's working directory. */
  working_dir?: string;
  /** Set over the service's environment. */
  environment: Record<string, string>;
}

export type PullPolicy = "always" | "missing" | "never" | "build" | "daily" | "weekly" | `every_${string}` | "if_not_present";
export type RestartPolicy = "no" | "always" | "unless-stopped" | "on-failure" | `on-failure:${number}`;

export interface BuildModel {
  /** Absolute directory, or a URL (git context) kept as written. */
  context: string;
  dockerfile?: string; // relative to context, as written; default "Dockerfile"
  dockerfile_inline?: string;
  args: Record<string, string | null>;
  target?: string;
  labels: Record<string, string>;
  network?: string;
  extra_hosts: ExtraHostModel[];
  shm_size?: Bytes;
  no_cache: boolean;
  pull: boolean;
  tags: string[];
  additional_contexts: Record<string, string>;
  secrets: FileReferenceModel[];
  cache_from: string[];
  cache_to: string[];
  platforms: string[];
  ssh: string[];
  privileged?: boolean;
  isolation?: string;
}

export interface EnvFileModel {
  path: string; // absolute
  required: boolean;
  format?: string; // "raw" or undefined (dotenv)
}

export type DependencyCondition = "service_started" | "service_healthy" | "service_completed_successfully";

export interface DependencyModel {
  condition: DependencyCondition;
  required: boolean;
  restart: boolean;
}

export interface LinkModel {
  service: string;
  alias: string; // same as service when none was given
}

export interface VolumesFromModel {
  /** "service" or "container" (container:NAME form). */
  kind: "service" | "container";
  name: string;
  read_only: boolean;
}

export interface ServiceNetworkModel {
  aliases: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  link_local_ips: string[];
  mac_address?: string;
  priority: number;
  gw_priority: number;
  interface_name?: string;
  driver_opts: Record<string, string>;
}

export interface PortModel {
  /** Container port (range expanded: one entry per port). */
  target: number;
  /** Host port as written: "8080", "8000-8010", or undefined for a random one. */
  published?: string;
  host_ip?: string;
  protocol: "tcp" | "udp" | "sctp";
  mode: "ingress" | "host";
  name?: string;
  app_protocol?: string;
}

export interface ExtraHostModel {
  host: string;
  ip: string;
}

export type ServiceVolumeModel =
  | {
      type: "bind";
      source: string; // absolute host path
      target: string;
      read_only: boolean;
      bind: { propagation?: string; create_host_path: boolean; selinux?: "z" | "Z" };
      consistency?: string;
    }
  | {
      type: "volume";
      /** Name of a top-level volume; undefined for an anonymous volume. */
      source?: string;
      target: string;
      read_only: boolean;
      volume: { nocopy: boolean; subpath?: string };
      consistency?: string;
    }
  | {
      type: "tmpfs";
      target: string;
      read_only: boolean;
      tmpfs: { size?: Bytes; mode?: number };
    }
  | { type: "image"; source: string; target: string; read_only: boolean; image: { subpath?: string } }
  | { type: "npipe" | "cluster"; source?: string; target: string; read_only: boolean };

export interface FileReferenceModel {
  source: string;
  target: string; // absolute path in the container (secrets default /run/secrets/<source>, configs /<source>)
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface HealthcheckModel {
  /** ["CMD", ...argv] | ["CMD-SHELL", script] | ["NONE"] */
  test: string[];
  interval: Duration; // default 30 s
  timeout: Duration; // default 30 s
  retries: number; // default 3
  start_period: Duration; // default 0
  start_interval: Duration; // default 5 s
  disable: boolean;
}

export interface UlimitModel {
  soft: number;
  hard: number;
}

export interface DeviceModel {
  source: string;
  target: string;
  permissions: string; // "rwm" by default
}

export interface LoggingModel {
  driver?: string;
  options: Record<string, string>;
}

export interface ResourceSpec {
  cpus?: number;
  memory?: Bytes;
  pids?: number;
}

export interface DeployModel {
  mode?: string;
  replicas?: number;
  labels: Record<string, string>;
  resources: { limits: ResourceSpec; reservations: ResourceSpec & { devices?: unknown[] } };
  restart_policy?: { condition: "none" | "on-failure" | "any"; delay?: Duration; max_attempts?: number; window?: Duration };
  update_config?: Record<string, unknown>;
  rollback_config?: Record<string, unknown>;
  placement?: Record<string, unknown>;
  endpoint_mode?: string;
}

export type WatchAction = "sync" | "rebuild" | "restart" | "sync+restart" | "sync+exec";

export interface WatchRuleModel {
  action: WatchAction;
  path: string; // absolute host path
  target?: string; // container path (sync*)
  ignore: string[];
  include: string[];
  initial_sync: boolean;
  exec?: { command: string[]; user?: string; privileged?: boolean; working_dir?: string; environment: Record<string, string> };
}

export interface DevelopModel {
  watch: WatchRuleModel[];
}

export interface NetworkModel {
  /** Key in the stack file. */
  key: string;
  /** Real name: `name:` or `<project>_<key>`; for external networks the existing network's name. */
  name: string;
  driver: string; // "bridge" default
  driver_opts: Record<string, string>;
  external: boolean;
  internal: boolean;
  attachable: boolean;
  enable_ipv6: boolean;
  ipam: { driver?: string; config: IpamConfigModel[]; options: Record<string, string> };
  labels: Record<string, string>;
  /** Derived from driver_opts `com.docker.network.driver.mtu` when given. */
  mtu?: number;
}

export interface IpamConfigModel {
  subnet?: string;
  ip_range?: string;
  gateway?: string;
  aux_addresses: Record<string, string>;
}

export interface VolumeModel {
  key: string;
  /** Real name: `name:` or `<project>_<key>`. */
  name: string;
  driver: string; // "local" default
  driver_opts: Record<string, string>;
  external: boolean;
  labels: Record<string, string>;
}

export interface SecretOrConfigModel {
  key: string;
  name: string;
  /** Absolute host path (file:), or inline content, or an env var name. */
  file?: string;
  content?: string;
  environment?: string;
  external: boolean;
  labels: Record<string, string>;
}
