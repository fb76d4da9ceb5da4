// What `stack doctor` learns about the host, as plain data. The gathering
// (gather.ts, probes.ts, gather-leftovers.ts) fills these in; the checks
// (checks.ts, leftovers.ts) only read them, so they are tested with tables of
// facts.

export type CheckStatus = "ok" | "warn" | "fail";

/** One line of the report. `fix` is "" when there is nothing to do. */
export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  fix: string;
}

/**
 * The outcome of something doctor really tried (mount an overlay, run a
 * container, add a netns). `skipped` says why it was not tried (not root, a
 * tool missing): the check then cannot claim success.
 */
export type ProbeOutcome =
  | { ok: true; ms: number }
  | { ok: false; error: string }
  | { ok: false; skipped: string };

export type CgroupLayout = "v1" | "hybrid" | "v2";

export interface CgroupFacts {
  /** As detectCgroupMode of the runtime layer sees /sys/fs/cgroup. */
  mode: CgroupLayout;
  /**
   * Controllers stack can use: on v1 and hybrid the mounted v1 hierarchies
   * (stack uses those there), on v2 the root's cgroup.controllers.
   */
  controllers: string[];
}

export interface RuntimeFacts {
  /** Installed OCI runtimes and their binaries. */
  installed: { runc?: string; crun?: string };
  /** The runtime stack would use (chooseRuntime), when one is usable. */
  chosen?: string;
  /** Why none is usable (chooseRuntime's error and hint). */
  choiceError?: { message: string; hint: string };
  /** The test container (create, start, wait, remove). */
  probe: ProbeOutcome;
  /** What the test container ran, e.g. "busybox true". */
  probeCommand?: string;
}

export interface PortListener {
  protocol: "udp" | "tcp";
  /** "0.0.0.0", "::" or a specific address. */
  address: string;
  port: number;
  /** Programs holding the socket ("dnsmasq (pid 812)"), when found. */
  holders: string[];
}

export interface HostFacts {
  uid: number;
  /** uname -r. */
  kernelRelease: string;
  overlay: ProbeOutcome;
  cgroup: CgroupFacts;
  runtime: RuntimeFacts;
  ip: { path?: string; netns: ProbeOutcome };
  nft: { path?: string; list: ProbeOutcome };
  /** net.ipv4.ip_forward: its value (undefined when unreadable) and whether root can change it. */
  ipForward: { value?: string; writable: boolean };
  /** Free space where the state dir lives (its nearest existing ancestor). */
  disk: { path: string; freeBytes?: number; error?: string };
  /** Sockets listening on port 53 of the host's network namespace. */
  dnsListeners: PortListener[];
  tini?: string;
  busybox?: { path: string; static: boolean };
  mmdebstrap?: string;
}
