// OCI runtime spec (config.json) generation: a pure function from the
// normalized service, the image config and facts the caller looked up
// (resolved user, paths, host rlimits, devices). The cgroup limits are NOT
// in linux.resources: stack writes them itself (cgroup-settings.ts) and runc
// only joins linux.cgroupsPath, so there is one writer of every limit.
import { InvalidInputError } from "../errors.js";
import type { ServiceModel } from "../schema/model.js";
import { containerCapabilities } from "./capabilities.js";
import { containerArgs } from "./command-line.js";
import { containerEnv } from "./environment.js";
import type { ImageConfig } from "./image-config.js";
import { containerRlimits, type HostRlimits, type Rlimit } from "./rlimits.js";
import { defaultSeccompProfile, type SeccompProfile } from "./seccomp-profile.js";
import type { ResolvedUser } from "./user.js";

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciProcess {
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface OciDevice {
  path: string;
  type: "c" | "b";
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname?: string;
  domainname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: {
    namespaces: Array<{ type: string; path?: string }>;
    cgroupsPath: string;
    resources: { devices: Array<{ allow: boolean; type?: string; major?: number; minor?: number; access?: string }> };
    devices?: OciDevice[];
    sysctl?: Record<string, string>;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    seccomp?: SeccompProfile;
  };
}

/** Where the network namespace comes from: the host's, a fresh empty one, or a prepared one (netns path or another container's /proc/<pid>/ns/net). */
export type NetworkNamespace = { mode: "host" } | { mode: "none" } | { mode: "path"; path: string };

/** A host device, looked up (stat) by the caller. */
export interface ResolvedDevice extends OciDevice {
  /** cgroup access: any of "rwm". */
  permissions: string;
}

export interface SpecInput {
  service: ServiceModel;
  image: ImageConfig;
  user: ResolvedUser;
  /** Host path of the container's root filesystem (the overlay mount point). */
  rootfs: string;
  /**
   * The root filesystem as a mount for the OCI runtime to make at "/" over
   * `rootfs` (then an empty folder) in the container's own mount namespace,
   * before every other mount; absent when stack mounted it at `rootfs`.
   */
  rootMount?: OciMount;
  network: NetworkNamespace;
  hostname: string;
  /** Host files bind-mounted over the container's /etc files (made by the network layer). */
  etcFiles: { resolvConf?: string; hosts?: string; hostname?: string };
  /** Volumes, binds, volumes_from: already resolved to host paths. */
  volumeMounts: OciMount[];
  hostRlimits: HostRlimits;
  /** The host's bounding set (capabilitiesOfMask): `privileged` gets what is in it. Undefined: every capability. */
  hostCapabilities?: readonly string[];
  /** e.g. "/stack/<project>/<container>". */
  cgroupsPath: string;
  devices: ResolvedDevice[];
  /** Host path of a static init (tini-static); used when `service.init`. */
  initBinary?: string;
  /** Host architecture as Node spells it (process.arch). */
  arch: string;
  annotations?: Record<string, string>;
}

export interface BuiltSpec {
  spec: OciSpec;
  /** Settings that were accepted but changed or not acted on. */
  warnings: string[];
}

export const INIT_PATH = "/sbin/docker-init";
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

const MASKED_PATHS = [
  "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/sched_debug",
  "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
];
const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

interface SecurityOptions {
  noNewPrivileges: boolean;
  seccomp: boolean;
}

function securityOptions(service: ServiceModel, warnings: string[]): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, seccomp: true };
  for (const opt of service.security_opt) {
    const path = `services.${service.name}.security_opt`;
    const [key = "", value] = opt.split(/[=:]/, 2);
    if (key === "no-new-privileges") {
      if (value !== undefined && value !== "true" && value !== "false") {
        throw new InvalidInputError(`${path}: ${JSON.stringify(opt)} has a bad value`, { hint: 'write "no-new-privileges:true" or "no-new-privileges:false"' });
      }
      out.noNewPrivileges = value !== "false";
    } else if (key === "seccomp") {
      if (value !== "unconfined") {
        throw new InvalidInputError(`${path}: ${JSON.stringify(opt)}: only "seccomp=unconfined" is supported`, { hint: "remove it to use stack's default profile" });
      }
      out.seccomp = false;
    } else if (key === "apparmor" || key === "label") {
      warnings.push(`${path}: ${JSON.stringify(opt)} is accepted but not applied (stack sets no AppArmor or SELinux labels)`);
    } else {
      throw new InvalidInputError(`${path}: unknown option ${JSON.stringify(opt)}`, { hint: 'use "no-new-privileges:true" or "seccomp=unconfined"' });
    }
  }
  return out;
}

/** "/run" or "/run:size=64m,mode=1777" (the short `tmpfs:` form). */
function tmpfsMount(entry: string, service: string): OciMount {
  const colon = entry.indexOf(":");
  const target = colon < 0 ? entry : entry.slice(0, colon);
  const opts = colon < 0 ? [] : entry.slice(colon + 1).split(",").filter((o) => o !== "");
  if (!target.startsWith("/")) {
    throw new InvalidInputError(`services.${service}.tmpfs: ${JSON.stringify(entry)} is not an absolute path`, { hint: 'write it like "/run" or "/run:size=64m"' });
  }
  return { destination: target, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec", ...opts] };
}

function depth(p: string): number {
  return p.split("/").filter((s) => s !== "").length;
}

export function buildSpec(input: SpecInput): BuiltSpec {
  const { service, image, user } = input;
  const warnings: string[] = [];
  const base = `services.${service.name}`;
  const security = securityOptions(service, warnings);
  const privileged = service.privileged;

  let args = containerArgs(service, image);
  if (service.init) {
    if (!input.initBinary) throw new InvalidInputError(`${base}.init: no init binary on this host`, { hint: "install tini (Debian package `tini`), or remove `init: true`" });
    args = [INIT_PATH, "--", ...args];
  }
  const cwd = service.working_dir ?? (image.WorkingDir || "/");
  if (!cwd.startsWith("/")) {
    throw new InvalidInputError(`${base}.working_dir: ${JSON.stringify(cwd)} is not an absolute path`, { hint: "write the directory as an absolute path inside the container" });
  }

  const caps = containerCapabilities(service, input.hostCapabilities);
  // A non-root user gets the bounding set only, as in Docker: its effective
  // and permitted sets start empty (setuid binaries and file caps still work).
  const userCaps = user.uid === 0 ? caps : [];

  const process: OciProcess = {
    terminal: false,
    user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length > 0 ? { additionalGids: user.additionalGids } : {}) },
    args,
    env: containerEnv({ imageEnv: image.Env ?? [], serviceEnv: service.environment, hostname: input.hostname, home: user.home }),
    cwd,
    capabilities: { bounding: caps, effective: userCaps, permitted: userCaps },
  };
  const rlimits = containerRlimits(service.name, service.ulimits, input.hostRlimits, warnings);
  if (rlimits.length > 0) process.rlimits = rlimits;
  if (security.noNewPrivileges) process.noNewPrivileges = true;
  if (service.oom_score_adj !== undefined) process.oomScoreAdj = service.oom_score_adj;

  const sysRo = privileged ? [] : ["ro"];
  const mounts: OciMount[] = [
    ...(input.rootMount ? [{ ...input.rootMount, destination: "/" }] : []),
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${service.shm_size ?? DEFAULT_SHM_SIZE}`] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", ...sysRo] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", ...sysRo] },
  ];
  const etc: Array<[string, string | undefined]> = [
    ["/etc/resolv.conf", input.etcFiles.resolvConf],
    ["/etc/hostname", input.etcFiles.hostname],
    ["/etc/hosts", input.etcFiles.hosts],
  ];
  for (const [destination, source] of etc) {
    if (source) mounts.push({ destination, type: "bind", source, options: ["rbind", "rprivate", ...(service.read_only ? ["ro"] : [])] });
  }
  if (service.init && input.initBinary) mounts.push({ destination: INIT_PATH, type: "bind", source: input.initBinary, options: ["bind", "ro", "nosuid", "nodev"] });
  const user_mounts = [...service.tmpfs.map((t) => tmpfsMount(t, service.name)), ...input.volumeMounts];
  const seen = new Map<string, OciMount>();
  for (const m of user_mounts) {
    if (seen.has(m.destination)) {
      throw new InvalidInputError(`${base}.volumes: two mounts at ${JSON.stringify(m.destination)}`, { hint: "keep one volume, bind or tmpfs per container path" });
    }
    seen.set(m.destination, m);
  }
  // Parents before children, so /data/cache lands inside /data; stable for equal depth.
  mounts.push(...[...seen.values()].sort((a, b) => depth(a.destination) - depth(b.destination) || (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0)));

  const namespaces: Array<{ type: string; path?: string }> = [{ type: "mount" }, { type: "uts" }];
  if (service.pid !== "host") namespaces.push({ type: "pid" });
  if (service.ipc !== "host") namespaces.push({ type: "ipc" });
  if (input.network.mode === "none") namespaces.push({ type: "network" });
  else if (input.network.mode === "path") namespaces.push({ type: "network", path: input.network.path });

  const cgroupDevices: OciSpec["linux"]["resources"]["devices"] = privileged
    ? [{ allow: true, access: "rwm" }]
    : [{ allow: false, access: "rwm" }, ...input.devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions }))];

  const linux: OciSpec["linux"] = {
    namespaces,
    cgroupsPath: input.cgroupsPath,
    resources: { devices: cgroupDevices },
  };
  if (input.devices.length > 0) {
    linux.devices = input.devices.map(({ permissions: _p, ...d }) => d);
  }
  if (Object.keys(service.sysctls).length > 0) {
    linux.sysctl = Object.fromEntries(Object.keys(service.sysctls).sort().map((k) => [k, service.sysctls[k]!]));
  }
  if (!privileged) {
    linux.maskedPaths = MASKED_PATHS;
    linux.readonlyPaths = READONLY_PATHS;
    if (security.seccomp) linux.seccomp = defaultSeccompProfile(caps, input.arch);
  }

  const spec: OciSpec = {
    ociVersion: "1.0.2",
    process,
    root: { path: input.rootfs, readonly: service.read_only },
    hostname: input.hostname,
    mounts,
    linux,
  };
  if (service.domainname) spec.domainname = service.domainname;
  if (input.annotations && Object.keys(input.annotations).length > 0) {
    spec.annotations = Object.fromEntries(Object.keys(input.annotations).sort().map((k) => [k, input.annotations![k]!]));
  }
  if (input.network.mode === "host" && service.hostname === undefined) {
    // Sharing the host's network, Docker shares its name too.
    delete spec.hostname;
    spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== "uts");
  }
  return { spec, warnings };
}
