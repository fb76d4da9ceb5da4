import { describe, expect, test } from "vitest";
import { evaluateHost, parseKernelVersion } from "../../../src/doctor/checks.js";
import type { CheckResult, HostFacts } from "../../../src/doctor/facts.js";

const MiB = 1024 * 1024;

/** A healthy Debian 12 host, as gathered. */
function healthy(): HostFacts {
  return {
    uid: 0,
    kernelRelease: "6.1.0-18-amd64",
    overlay: { ok: true, ms: 12 },
    cgroup: { mode: "hybrid", controllers: ["cpu", "cpuset", "devices", "freezer", "memory", "pids"] },
    runtime: { installed: { runc: "/usr/sbin/runc" }, chosen: "runc", probe: { ok: true, ms: 310 }, probeCommand: "busybox true" },
    ip: { path: "/usr/sbin/ip", netns: { ok: true, ms: 20 } },
    nft: { path: "/usr/sbin/nft", list: { ok: true, ms: 5 } },
    ipForward: { value: "0", writable: true },
    disk: { path: "/var/lib/stack", freeBytes: 50 * 1024 * MiB },
    dnsListeners: [],
    tini: "/usr/bin/tini-static",
    busybox: { path: "/bin/busybox", static: true },
    mmdebstrap: "/usr/bin/mmdebstrap",
  };
}

function check(facts: HostFacts, name: string): CheckResult {
  const r = evaluateHost(facts).find((x) => x.name === name);
  if (!r) throw new Error(`no check ${name}`);
  return r;
}

describe("evaluateHost", () => {
  test("a healthy host: every check ok, in report order, no fix", () => {
    const results = evaluateHost(healthy());
    expect(results.map((r) => r.name)).toEqual(["root", "kernel", "overlayfs", "cgroups", "oci-runtime", "iproute2", "nftables", "ip-forward", "disk", "dns-port", "tini", "busybox", "mmdebstrap"]);
    expect(results.filter((r) => r.status !== "ok")).toEqual([]);
    expect(results.every((r) => r.fix === "")).toBe(true);
  });

  const cases: Array<{ name: string; change: (f: HostFacts) => void; check: string; status: "ok" | "warn" | "fail"; detail?: RegExp; fix?: RegExp }> = [
    { name: "not root", change: (f) => (f.uid = 1000), check: "root", status: "fail", detail: /uid 1000/, fix: /as root/ },
    { name: "kernel too old", change: (f) => (f.kernelRelease = "4.9.0-3-amd64"), check: "kernel", status: "fail", detail: /4\.9\.0-3-amd64.*older than 4\.10/ },
    { name: "kernel untested", change: (f) => (f.kernelRelease = "4.19.0-20-amd64"), check: "kernel", status: "warn", detail: /older than 5\.10/ },
    { name: "kernel release unreadable", change: (f) => (f.kernelRelease = "weird"), check: "kernel", status: "warn", detail: /"weird"/ },
    { name: "kernel 5.10 exactly", change: (f) => (f.kernelRelease = "5.10.0-28-amd64"), check: "kernel", status: "ok" },
    { name: "overlay module missing", change: (f) => (f.overlay = { ok: false, error: "mount: unknown filesystem type 'overlay'" }), check: "overlayfs", status: "fail", detail: /unknown filesystem type/, fix: /modprobe overlay/ },
    { name: "overlay refused by the filesystem", change: (f) => (f.overlay = { ok: false, error: "wrong fs type, bad option" }), check: "overlayfs", status: "fail", fix: /STACK_STATE_DIR.*filesystem/ },
    { name: "overlay not tried", change: (f) => (f.overlay = { ok: false, skipped: "needs root" }), check: "overlayfs", status: "warn", detail: /not tried: needs root/ },
    { name: "v1 without memory", change: (f) => (f.cgroup = { mode: "v1", controllers: ["cpu", "cpuset", "devices", "freezer", "pids"] }), check: "cgroups", status: "fail", detail: /memory not available/, fix: /mount -t cgroup -o memory/ },
    { name: "v2 with every controller", change: (f) => (f.cgroup = { mode: "v2", controllers: ["cpu", "cpuset", "io", "memory", "pids"] }), check: "cgroups", status: "ok", detail: /v2 \(unified\)/ },
    { name: "v2 on a kernel without cgroup.freeze", change: (f) => { f.kernelRelease = "5.1.0"; f.cgroup = { mode: "v2", controllers: ["cpu", "cpuset", "memory", "pids"] }; }, check: "cgroups", status: "fail", detail: /freezer/, fix: /5\.2/ },
    { name: "v2 without pids", change: (f) => (f.cgroup = { mode: "v2", controllers: ["cpu", "cpuset", "memory"] }), check: "cgroups", status: "fail", detail: /controller pids/, fix: /command line/ },
    { name: "no OCI runtime", change: (f) => (f.runtime = { installed: {}, probe: { ok: false, skipped: "no usable runtime" } }), check: "oci-runtime", status: "fail", fix: /apt-get install runc/ },
    {
      name: "STACK_RUNTIME=crun on a hybrid host",
      change: (f) => (f.runtime = { installed: { runc: "/usr/sbin/runc", crun: "/usr/bin/crun" }, choiceError: { message: "STACK_RUNTIME=crun: crun refuses cgroup hybrid hosts", hint: "unset STACK_RUNTIME to use runc" }, probe: { ok: false, skipped: "no usable runtime" } }),
      check: "oci-runtime",
      status: "fail",
      detail: /crun refuses/,
      fix: /unset STACK_RUNTIME/,
    },
    { name: "runtime fails its container", change: (f) => (f.runtime.probe = { ok: false, error: "container probe failed to start (runtime exit 1): permission denied" }), check: "oci-runtime", status: "fail", detail: /could not run a test container: .*permission denied/, fix: /runc --version/ },
    { name: "nothing to run in the test container", change: (f) => (f.runtime.probe = { ok: false, skipped: "neither busybox-static nor tini-static is installed to run in the test container" }), check: "oci-runtime", status: "warn", fix: /busybox-static/ },
    { name: "crun installed beside runc on a hybrid host", change: (f) => (f.runtime.installed.crun = "/usr/bin/crun"), check: "oci-runtime", status: "ok", detail: /crun is not used: it refuses/ },
    { name: "no ip", change: (f) => (f.ip = { netns: { ok: false, skipped: "ip is missing" } }), check: "iproute2", status: "fail", fix: /apt-get install iproute2/ },
    { name: "netns refused", change: (f) => (f.ip.netns = { ok: false, error: "mount --make-shared /run/netns failed: Permission denied" }), check: "iproute2", status: "fail", detail: /Permission denied/ },
    { name: "no nft", change: (f) => (f.nft = { list: { ok: false, skipped: "nft is missing" } }), check: "nftables", status: "fail", fix: /apt-get install nftables/ },
    { name: "nft without kernel support", change: (f) => (f.nft.list = { ok: false, error: "Error: Could not process rule: Operation not supported" }), check: "nftables", status: "fail", fix: /modprobe nf_tables/ },
    { name: "ip_forward on", change: (f) => (f.ipForward = { value: "1", writable: true }), check: "ip-forward", status: "ok", detail: /= 1$/ },
    { name: "ip_forward off, read-only /proc/sys", change: (f) => (f.ipForward = { value: "0", writable: false }), check: "ip-forward", status: "fail", fix: /sysctl -w net\.ipv4\.ip_forward=1/ },
    { name: "ip_forward off, not root", change: (f) => { f.uid = 1000; f.ipForward = { value: "0", writable: false }; }, check: "ip-forward", status: "warn", detail: /only root/ },
    { name: "ip_forward unreadable", change: (f) => (f.ipForward = { writable: false }), check: "ip-forward", status: "warn" },
    { name: "disk: 100 MiB free", change: (f) => (f.disk.freeBytes = 100 * MiB), check: "disk", status: "fail", detail: /100 MiB free/, fix: /STACK_STATE_DIR/ },
    { name: "disk: 600 MiB free", change: (f) => (f.disk.freeBytes = 600 * MiB), check: "disk", status: "warn", detail: /only 600 MiB/ },
    { name: "disk: exactly 1 GiB free", change: (f) => (f.disk.freeBytes = 1024 * MiB), check: "disk", status: "ok" },
    { name: "disk: exactly 200 MiB free", change: (f) => (f.disk.freeBytes = 200 * MiB), check: "disk", status: "warn" },
    { name: "disk unreadable", change: (f) => (f.disk = { path: "/x", error: "EACCES" }), check: "disk", status: "warn", detail: /EACCES/ },
    {
      name: "dnsmasq on 0.0.0.0:53",
      change: (f) => (f.dnsListeners = [{ protocol: "udp", address: "0.0.0.0", port: 53, holders: ["dnsmasq (pid 812)"] }]),
      check: "dns-port",
      status: "fail",
      detail: /0\.0\.0\.0:53\/udp \(dnsmasq \(pid 812\)\) listens on every address/,
      fix: /bind-interfaces/,
    },
    { name: "a wildcard IPv6 listener", change: (f) => (f.dnsListeners = [{ protocol: "tcp", address: "::", port: 53, holders: [] }]), check: "dns-port", status: "warn", detail: /\[::\]:53\/tcp/ },
    { name: "systemd-resolved on 127.0.0.53 only", change: (f) => (f.dnsListeners = [{ protocol: "udp", address: "127.0.0.53", port: 53, holders: [] }]), check: "dns-port", status: "ok", detail: /held only on 127\.0\.0\.53/ },
    { name: "no tini", change: (f) => delete f.tini, check: "tini", status: "warn", fix: /apt-get install tini/ },
    { name: "no busybox", change: (f) => delete f.busybox, check: "busybox", status: "warn", fix: /busybox-static/ },
    { name: "dynamic busybox", change: (f) => (f.busybox = { path: "/bin/busybox", static: false }), check: "busybox", status: "warn", detail: /dynamically linked/ },
    { name: "no mmdebstrap", change: (f) => delete f.mmdebstrap, check: "mmdebstrap", status: "warn", fix: /apt-get install mmdebstrap/ },
  ];
  test.each(cases)("$name → $check $status", ({ change, check: name, status, detail, fix }) => {
    const facts = healthy();
    change(facts);
    const r = check(facts, name);
    expect(r.status).toBe(status);
    if (detail) expect(r.detail).toMatch(detail);
    if (fix) expect(r.fix).toMatch(fix);
    if (status !== "ok") expect(r.fix).not.toBe("");
  });

  test("optional things never fail", () => {
    const f = healthy();
    delete f.tini;
    delete f.busybox;
    delete f.mmdebstrap;
    expect(evaluateHost(f).filter((r) => r.status === "fail")).toEqual([]);
  });
});

describe("parseKernelVersion", () => {
  test.each([
    ["6.1.0-18-amd64", [6, 1]],
    ["6.18.44-fc-v782", [6, 18]],
    ["5.15.0", [5, 15]],
    ["linux", undefined],
  ])("%s", (release, expected) => {
    expect(parseKernelVersion(release)).toEqual(expected);
  });
});
