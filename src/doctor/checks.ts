// The host checks of `stack doctor`: gathered facts in, one result per check
// out. Pure: no file, process or clock is touched here.
//
// A "fail" is only ever given for what stack cannot work without (root,
// overlayfs, cgroup controllers, an OCI runtime, iproute2, nftables, disk,
// DNS port); optional things (tini, busybox, mmdebstrap) at worst "warn".
// The exit code follows: non-zero when any result is "fail".
import type { CheckResult, CheckStatus, HostFacts, ProbeOutcome } from "./facts.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Below this free space in the state dir: fail. Below DISK_WARN_BYTES: warn. */
export const DISK_FAIL_BYTES = 200 * MiB;
export const DISK_WARN_BYTES = GiB;

/** Controllers stack writes or uses (docs/runtime.md: limits, stats, pause, devices). */
export const REQUIRED_CONTROLLERS = ["cpu", "cpuset", "devices", "freezer", "memory", "pids"] as const;

function result(name: string, status: CheckStatus, detail: string, fix = ""): CheckResult {
  return { name, status, detail, fix };
}

/** "6.1.0-18-amd64" → [6, 1]; undefined when it does not start with two numbers. */
export function parseKernelVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function atLeast(v: [number, number], major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

function notRun(p: ProbeOutcome): string | undefined {
  return !p.ok && "skipped" in p ? p.skipped : undefined;
}

export function checkRoot(f: HostFacts): CheckResult {
  if (f.uid === 0) return result("root", "ok", "running as root");
  return result("root", "fail", `running as uid ${f.uid}: stack mounts overlays, makes namespaces and cgroups, which needs root`, "run stack as root (sudo stack …)");
}

export function checkKernel(f: HostFacts): CheckResult {
  const v = parseKernelVersion(f.kernelRelease);
  if (!v) return result("kernel", "warn", `cannot read the version of kernel ${JSON.stringify(f.kernelRelease)}`, "stack needs Linux 4.10 or newer; 5.10 or newer is tested");
  // nftables' fib expression (published ports on local addresses) came in 4.10.
  if (!atLeast(v, 4, 10)) return result("kernel", "fail", `Linux ${f.kernelRelease} is older than 4.10 (nftables fib, overlayfs with several lower dirs)`, "upgrade the kernel (Debian 12 ships 6.1)");
  if (!atLeast(v, 5, 10)) return result("kernel", "warn", `Linux ${f.kernelRelease} is older than 5.10, which stack is not tested on`, "upgrade the kernel if something misbehaves (Debian 12 ships 6.1)");
  return result("kernel", "ok", `Linux ${f.kernelRelease}`);
}

export function checkOverlay(f: HostFacts): CheckResult {
  const p = f.overlay;
  if (p.ok) return result("overlayfs", "ok", `mounted and unmounted a test overlay (${p.ms} ms)`);
  const skipped = notRun(p);
  if (skipped) return result("overlayfs", "warn", `not tried: ${skipped}`, "run `stack doctor` as root");
  const error = "error" in p ? p.error : "";
  const fix = /unknown filesystem|no such device/i.test(error)
    ? "load the module: modprobe overlay (and add `overlay` to /etc/modules)"
    : "put STACK_STATE_DIR on a filesystem that can hold overlay upper dirs (ext4, xfs, btrfs; not NFS or another overlay)";
  return result("overlayfs", "fail", `cannot mount an overlay: ${error}`, fix);
}

export function checkCgroups(f: HostFacts): CheckResult {
  const { mode, controllers } = f.cgroup;
  const have = new Set(controllers);
  const v = parseKernelVersion(f.kernelRelease);
  if (mode === "v2") {
    // On v2 the device rules are eBPF programs (no controller file) and the
    // freezer is cgroup.freeze, which came in 5.2.
    have.add("devices");
    if (v && atLeast(v, 5, 2)) have.add("freezer");
  }
  const missing = REQUIRED_CONTROLLERS.filter((c) => !have.has(c));
  const layout = mode === "hybrid" ? "v1 + v2 hybrid (stack uses the v1 hierarchies)" : mode === "v2" ? "v2 (unified)" : "v1";
  if (missing.length === 0) return result("cgroups", "ok", `cgroup ${layout}; controllers ${REQUIRED_CONTROLLERS.join(", ")}`);
  const fix = mode === "v2"
    ? `the kernel does not offer ${missing.join(", ")} on the unified hierarchy: remove cgroup_disable=… / cgroup_no_v1=… from the kernel command line${missing.includes("freezer") ? " (the v2 freezer needs Linux 5.2)" : ""}`
    : `mount the missing hierarchies, e.g. mkdir /sys/fs/cgroup/${missing[0]} && mount -t cgroup -o ${missing[0]} cgroup /sys/fs/cgroup/${missing[0]}, or boot with cgroup_enable=${missing[0]}`;
  return result("cgroups", "fail", `cgroup ${layout}: controller${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not available (stack sets limits, stats, pause and device rules with them)`, fix);
}

export function checkRuntime(f: HostFacts): CheckResult {
  const r = f.runtime;
  const names = (["runc", "crun"] as const).filter((n) => r.installed[n]);
  if (names.length === 0) return result("oci-runtime", "fail", "neither runc nor crun is installed", "apt-get install runc");
  if (r.choiceError) return result("oci-runtime", "fail", r.choiceError.message, r.choiceError.hint);
  const installed = names.map((n) => `${n} (${r.installed[n]})`).join(", ");
  const refused = r.installed.crun && r.chosen !== "crun" && f.cgroup.mode !== "v2" ? "; crun is not used: it refuses cgroup v1 and hybrid hosts" : "";
  const p = r.probe;
  if (p.ok) return result("oci-runtime", "ok", `${r.chosen} ran a test container (${r.probeCommand ?? "true"}) in ${p.ms} ms; installed: ${installed}${refused}`);
  const skipped = notRun(p);
  if (skipped) return result("oci-runtime", "warn", `${r.chosen} is installed but was not tried: ${skipped}`, /busybox|tini/.test(skipped) ? "apt-get install busybox-static (doctor runs its `true` in the test container)" : "run `stack doctor` as root");
  return result("oci-runtime", "fail", `${r.chosen} could not run a test container: ${"error" in p ? p.error : ""}`, `check that ${r.chosen} works on this kernel (${r.chosen} --version), or install the other runtime (apt-get install ${r.chosen === "runc" ? "crun" : "runc"}) and set STACK_RUNTIME`);
}

export function checkIproute2(f: HostFacts): CheckResult {
  if (!f.ip.path) return result("iproute2", "fail", "`ip` is not installed", "apt-get install iproute2");
  const p = f.ip.netns;
  if (p.ok) return result("iproute2", "ok", `${f.ip.path}; created and deleted a network namespace (${p.ms} ms)`);
  const skipped = notRun(p);
  if (skipped) return result("iproute2", "warn", `${f.ip.path} is installed; no namespace tried: ${skipped}`, "run `stack doctor` as root");
  return result("iproute2", "fail", `cannot create a network namespace: ${"error" in p ? p.error : ""}`, "stack needs network namespaces: check that /run/netns is writable and the kernel has CONFIG_NET_NS");
}

export function checkNftables(f: HostFacts): CheckResult {
  if (!f.nft.path) return result("nftables", "fail", "`nft` is not installed", "apt-get install nftables");
  const p = f.nft.list;
  if (p.ok) return result("nftables", "ok", `${f.nft.path}; listed the ruleset's tables`);
  const skipped = notRun(p);
  if (skipped) return result("nftables", "warn", `${f.nft.path} is installed; not tried: ${skipped}`, "run `stack doctor` as root");
  return result("nftables", "fail", `nft cannot list tables: ${"error" in p ? p.error : ""}`, "load nf_tables (modprobe nf_tables); stack's NAT and published ports need it");
}

export function checkIpForward(f: HostFacts): CheckResult {
  const { value, writable } = f.ipForward;
  if (value === "1") return result("ip-forward", "ok", "net.ipv4.ip_forward = 1");
  if (value === undefined) return result("ip-forward", "warn", "cannot read net.ipv4.ip_forward", "check that /proc/sys is mounted");
  if (f.uid !== 0) return result("ip-forward", "warn", `net.ipv4.ip_forward = ${value}; only root can turn it on (stack does so with its first network)`, "run stack as root");
  if (writable) return result("ip-forward", "ok", `net.ipv4.ip_forward = ${value}; stack sets it to 1 with its first network and restores it after the last`);
  return result("ip-forward", "fail", `net.ipv4.ip_forward = ${value} and /proc/sys is read-only here: containers could not reach beyond their bridge`, "sysctl -w net.ipv4.ip_forward=1 on the host (or run stack where /proc/sys is writable)");
}

function size(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / MiB)} MiB`;
}

export function checkDisk(f: HostFacts): CheckResult {
  const { path, freeBytes, error } = f.disk;
  if (freeBytes === undefined) return result("disk", "warn", `cannot read the free space of ${path}: ${error ?? "unknown error"}`, "check STACK_STATE_DIR");
  const fix = `free space on ${path}'s filesystem (\`stack image rm\`, \`stack down -v\` of old projects) or point STACK_STATE_DIR at a bigger one`;
  if (freeBytes < DISK_FAIL_BYTES) return result("disk", "fail", `${size(freeBytes)} free under ${path} (images and container layers need more than ${size(DISK_FAIL_BYTES)})`, fix);
  if (freeBytes < DISK_WARN_BYTES) return result("disk", "warn", `only ${size(freeBytes)} free under ${path} (less than ${size(DISK_WARN_BYTES)})`, fix);
  return result("disk", "ok", `${size(freeBytes)} free under ${path}`);
}

export function checkDnsPort(f: HostFacts): CheckResult {
  const wildcard = f.dnsListeners.filter((l) => l.port === 53 && (l.address === "0.0.0.0" || l.address === "::"));
  const describe = (l: (typeof wildcard)[number]) => `${l.address.includes(":") ? `[${l.address}]` : l.address}:53/${l.protocol}${l.holders.length > 0 ? ` (${l.holders.join(", ")})` : ""}`;
  const fix = "make that server listen on its own addresses only (dnsmasq: bind-interfaces or listen-address=127.0.0.1; systemd-resolved's 127.0.0.53 is fine), or stop it";
  const v4 = wildcard.filter((l) => l.address === "0.0.0.0");
  if (v4.length > 0) {
    return result("dns-port", "fail", `${v4.map(describe).join(", ")} listens on every address: stack's embedded DNS cannot bind port 53 of its network gateways`, fix);
  }
  if (wildcard.length > 0) {
    return result("dns-port", "warn", `${wildcard.map(describe).join(", ")} listens on every IPv6 address: unless it is IPv6-only it also holds port 53 of stack's gateways`, fix);
  }
  const others = f.dnsListeners.filter((l) => l.port === 53);
  const note = others.length > 0 ? ` (port 53 is held only on ${[...new Set(others.map((l) => l.address))].sort().join(", ")})` : "";
  return result("dns-port", "ok", `nothing listens on 0.0.0.0:53 or [::]:53: the embedded DNS can use its gateways${note}`);
}

export function checkTini(f: HostFacts): CheckResult {
  if (f.tini) return result("tini", "ok", `${f.tini} (for \`init: true\`)`);
  return result("tini", "warn", "tini-static is not installed: services with `init: true` cannot start", "apt-get install tini");
}

export function checkBusybox(f: HostFacts): CheckResult {
  const b = f.busybox;
  if (!b) return result("busybox", "warn", "busybox-static is not installed (optional: tiny local images, doctor's test container)", "apt-get install busybox-static");
  if (!b.static) return result("busybox", "warn", `${b.path} is dynamically linked: it cannot run alone in an image (optional)`, "apt-get install busybox-static");
  return result("busybox", "ok", `${b.path} (static: tiny local images)`);
}

export function checkMmdebstrap(f: HostFacts): CheckResult {
  if (f.mmdebstrap) return result("mmdebstrap", "ok", `${f.mmdebstrap} (builds Debian base images offline from the host's mirror)`);
  return result("mmdebstrap", "warn", "mmdebstrap is not installed (optional: making debian:bookworm-slim without a registry)", "apt-get install mmdebstrap");
}

/** Every host check, in report order. */
export function evaluateHost(f: HostFacts): CheckResult[] {
  return [checkRoot, checkKernel, checkOverlay, checkCgroups, checkRuntime, checkIproute2, checkNftables, checkIpForward, checkDisk, checkDnsPort, checkTini, checkBusybox, checkMmdebstrap].map((c) => c(f));
}
