// Capabilities: Docker's default set, changed by cap_add / cap_drop ("ALL"
// allowed on both sides; names with or without the CAP_ prefix, any case).
// Docker applies drops after adds, except that `cap_add: [ALL]` starts from
// every capability and `cap_drop: [ALL]` from none.
import { InvalidInputError } from "../errors.js";

export const DEFAULT_CAPABILITIES = [
  "CAP_AUDIT_WRITE",
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_MKNOD",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_RAW",
  "CAP_SETFCAP",
  "CAP_SETGID",
  "CAP_SETPCAP",
  "CAP_SETUID",
  "CAP_SYS_CHROOT",
];

/** Every capability of Linux up to 6.x (runc ignores the ones the kernel lacks). */
export const ALL_CAPABILITIES = [
  "CAP_AUDIT_CONTROL", "CAP_AUDIT_READ", "CAP_AUDIT_WRITE", "CAP_BLOCK_SUSPEND", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
  "CAP_KILL", "CAP_LEASE", "CAP_LINUX_IMMUTABLE", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_MKNOD", "CAP_NET_ADMIN",
  "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_RAW", "CAP_PERFMON", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
  "CAP_SETUID", "CAP_SYSLOG", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT", "CAP_SYS_MODULE", "CAP_SYS_NICE",
  "CAP_SYS_PACCT", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG",
  "CAP_WAKE_ALARM",
];

/** Capabilities by number (capabilities(7)): bit N of a `Cap*:` mask in /proc/PID/status is CAPABILITY_BITS[N]. */
const CAPABILITY_BITS = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
  "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
  "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
  "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/**
 * The capabilities of a hex mask from /proc/PID/status (`CapBnd:` of stack's
 * own process: what any process it starts can hold at most; a host or an
 * outer container may withhold some, as this project's test VM withholds
 * CAP_SYS_RESOURCE). Undefined when the text has no such mask.
 */
export function capabilitiesOfMask(hex: string | undefined): string[] | undefined {
  if (hex === undefined || !/^[0-9a-f]{1,16}$/i.test(hex.trim())) return undefined;
  const mask = BigInt(`0x${hex.trim()}`);
  return CAPABILITY_BITS.filter((_, bit) => (mask >> BigInt(bit)) & 1n).sort();
}

/** Every capability the host lets a process hold: ALL_CAPABILITIES, less what `available` (the bounding set) lacks. */
export function everyCapability(available: readonly string[] | undefined): string[] {
  return available === undefined ? [...ALL_CAPABILITIES] : ALL_CAPABILITIES.filter((c) => available.includes(c));
}

function normalize(name: string, path: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === "ALL") return "ALL";
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(full)) {
    throw new InvalidInputError(`${path}: unknown capability ${JSON.stringify(name)}`, { hint: "use a name from capabilities(7), e.g. NET_ADMIN or SYS_PTRACE" });
  }
  return full;
}

export interface CapabilityInput {
  name: string;
  cap_add: string[];
  cap_drop: string[];
  privileged: boolean;
}

/** `available`: the host's bounding set (capabilitiesOfMask); `privileged` and `cap_add: [ALL]` get every capability in it. */
export function containerCapabilities(service: CapabilityInput, available?: readonly string[]): string[] {
  if (service.privileged) return everyCapability(available);
  const base = `services.${service.name}`;
  const adds = service.cap_add.map((c) => normalize(c, `${base}.cap_add`));
  const drops = service.cap_drop.map((c) => normalize(c, `${base}.cap_drop`));
  let caps = new Set(DEFAULT_CAPABILITIES);
  if (adds.includes("ALL")) caps = new Set(everyCapability(available));
  if (drops.includes("ALL")) caps = new Set();
  for (const c of adds) if (c !== "ALL") caps.add(c);
  for (const c of drops) if (c !== "ALL" && !adds.includes(c)) caps.delete(c);
  return [...caps].sort();
}
