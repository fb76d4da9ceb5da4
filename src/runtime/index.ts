// The runtime layer's public face: the pure spec/limit generators and the
// container lifecycle, plus openRuntime() that wires the real effects.
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { realCgroupFs, detectCgroupVersion } from "./cgroup.js";
import { realCommandRunner } from "../fs/command-runner.js";
import { ContainerRuntime } from "./container.js";
import { perlHelper } from "../fs/perl-helper.js";
import { CommandMounter, SyscallMounter } from "./mounter.js";
import { chooseRuntime, OciRuntime, type CgroupMode, type RuntimeName } from "./oci-runtime.js";
import { parseProcLimits } from "./rlimits.js";
import { capabilitiesOfMask } from "./capabilities.js";
import { statDevice } from "./devices.js";
import { processAlive } from "../fs/process-alive.js";

export { buildSpec, INIT_PATH, type BuiltSpec, type NetworkNamespace, type OciMount, type OciSpec, type ResolvedDevice, type SpecInput } from "./oci-spec.js";
export { resolveUser, type ResolvedUser } from "./user.js";
export type { ImageConfig } from "./image-config.js";
export { cgroupSettings, serviceLimits, type CgroupVersion, type Limits } from "./cgroup-settings.js";
export { ContainerCgroup, type CgroupFs, type CgroupStats } from "./cgroup.js";
export { overlayMount, type MountDescription } from "./overlay.js";
export { planVolumes, namedVolumeDir } from "./volumes.js";
export { resolveDevice, statDevice, type DeviceStat } from "./devices.js";
export { chooseRuntime, OciRuntime, type RuntimeChoice, type RuntimeName } from "./oci-runtime.js";
export { ContainerRuntime, containerDir, type ContainerHandle, type ContainerStatusInfo, type CreateConfig, type ExecOptions, type RuntimeDeps, type StartHooks } from "./container.js";

export interface OpenRuntimeOptions {
  stateDir: string;
  runDir: string;
  /** Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** STACK_RUNTIME, passed in by the CLI. */
  runtimeOverride?: string;
}

const RUNTIME_PATHS: Record<RuntimeName, string[]> = {
  runc: ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"],
  crun: ["/usr/bin/crun", "/usr/local/bin/crun"],
};

export function detectCgroupMode(cgroupRoot: string): CgroupMode {
  if (existsSync(join(cgroupRoot, "cgroup.controllers"))) return "v2";
  return existsSync(join(cgroupRoot, "unified", "cgroup.controllers")) ? "hybrid" : "v1";
}

/** The host's largest pipe buffer (a non-root process may not exceed it), capped at 1 MiB per stream. */
/** The bounding set of this process: what a container or an exec can be given at most. */
function hostCapabilitiesDep(): { hostCapabilities?: string[] } {
  let status: string;
  try {
    status = readFileSync("/proc/self/status", "utf8");
  } catch {
    return {};
  }
  const caps = capabilitiesOfMask(/^CapBnd:\s*([0-9a-f]+)$/im.exec(status)?.[1]);
  return caps ? { hostCapabilities: caps } : {};
}

function pipeMaxSize(): number | undefined {
  try {
    const max = Number(readFileSync("/proc/sys/fs/pipe-max-size", "utf8").trim());
    return max > 0 ? Math.min(max, 1024 * 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a kernel release string ("6.1.0-18-amd64") is at least major.minor. */
export function kernelAtLeast(releaseText: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(releaseText);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/** The runtime with the host's real mount, cgroupfs, processes and OCI runtime. */
export function openRuntime(options: OpenRuntimeOptions): ContainerRuntime {
  const cgroupRoot = options.cgroupRoot ?? "/sys/fs/cgroup";
  const available: Partial<Record<RuntimeName, string>> = {};
  for (const name of ["runc", "crun"] as const) {
    const found = RUNTIME_PATHS[name].find((p) => existsSync(p));
    if (found) available[name] = found;
  }
  const choice = chooseRuntime(available, detectCgroupMode(cgroupRoot), options.runtimeOverride);
  const helper = perlHelper();
  return new ContainerRuntime({
    stateDir: options.stateDir,
    runDir: options.runDir,
    cgroupRoot,
    cgroupVersion: detectCgroupVersion(realCgroupFs, cgroupRoot),
    cgroupFs: realCgroupFs,
    mounter: helper ? new SyscallMounter(helper) : new CommandMounter(realCommandRunner),
    runner: realCommandRunner,
    runtime: new OciRuntime(realCommandRunner, choice, join(options.runDir, choice.name)),
    signal: (pid, sig) => {
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    },
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    alive: processAlive,
    hostRlimits: parseProcLimits(readFileSync("/proc/self/limits", "utf8")),
    ...hostCapabilitiesDep(),
    arch: process.arch,
    statDevice,
    pipeBufferBytes: pipeMaxSize(),
    overlayVolatile: kernelAtLeast(release(), 5, 10),
    ...(helper ? { perl: helper.perl, mkfifo: (paths: string[], mode: number) => helper.mkfifo(paths, mode), warm: () => helper.warm() } : {}),
    ...(helper ? { spawnMonitor: (out: string, err: string, exitFile: string, pipeBytes: number, argv: string[]) => helper.monitor(out, err, exitFile, pipeBytes, argv) } : {}),
    ...(existsSync("/usr/bin/tini-static") ? { initBinary: "/usr/bin/tini-static" } : {}),
  });
}
