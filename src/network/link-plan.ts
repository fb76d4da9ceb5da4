// Describe-then-execute for links: the `ip` commands that create a bridge,
// join a container's namespace to bridges, and remove them. Pure.
import { createHash } from "node:crypto";

/** One `ip` command (without the leading `ip`), run in `netns` when given. */
export interface IpCommand {
  netns?: string;
  args: string[];
}

export interface BridgeSpec {
  bridge: string;
  gateway: string;
  prefix: number;
  mtu?: number;
  ipv6Gateway?: string;
  ipv6Prefix?: number;
}

/**
 * A fixed MAC for the bridge: otherwise Linux gives it the lowest MAC of its
 * ports, which changes when a container leaves, and the other containers'
 * ARP entry for the gateway goes stale (DNS and egress stall for minutes).
 */
export function bridgeMacAddress(bridge: string): string {
  const hex = createHash("sha256").update(bridge).digest("hex");
  return ["02", ...[0, 2, 4, 6, 8].map((i) => hex.slice(i, i + 2))].join(":");
}

export function planBridge(spec: BridgeSpec): IpCommand[] {
  const mtu = spec.mtu ? ["mtu", String(spec.mtu)] : [];
  const cmds: IpCommand[] = [
    { args: ["link", "add", spec.bridge, ...mtu, "address", bridgeMacAddress(spec.bridge), "type", "bridge"] },
    { args: ["addr", "add", `${spec.gateway}/${spec.prefix}`, "dev", spec.bridge] },
  ];
  // No `-6`: in a batch a line cannot carry ip's options (ip reads the family from the address).
  if (spec.ipv6Gateway) cmds.push({ args: ["addr", "add", `${spec.ipv6Gateway}/${spec.ipv6Prefix ?? 64}`, "dev", spec.bridge, "nodad"] });
  cmds.push({ args: ["link", "set", spec.bridge, "up"] });
  return cmds;
}

export function planBridgeRemoval(bridge: string): IpCommand[] {
  return [{ args: ["link", "del", bridge] }];
}

/** One interface of a container: a veth pair from the bridge into the namespace. */
export interface EndpointSpec {
  bridge: string;
  hostVeth: string;
  /** eth0, eth1 … inside the namespace. */
  ifname: string;
  address: string;
  prefix: number;
  mtu?: number;
  macAddress?: string;
  ipv6Address?: string;
  ipv6Prefix?: number;
}

export interface AttachSpec {
  netns: string;
  /** false when the namespace exists already (a second network joined later). */
  createNetns: boolean;
  endpoints: EndpointSpec[];
  /** Gateway of the first non-internal network; no default route when undefined (internal only). */
  defaultGateway?: string;
}

export function planAttach(spec: AttachSpec): IpCommand[] {
  const host: IpCommand[] = spec.createNetns ? [{ args: ["netns", "add", spec.netns] }] : [];
  const inside: IpCommand[] = spec.createNetns ? [{ netns: spec.netns, args: ["link", "set", "lo", "up"] }] : [];
  for (const e of spec.endpoints) {
    const mtu = e.mtu ? ["mtu", String(e.mtu)] : [];
    const mac = e.macAddress ? ["address", e.macAddress] : [];
    // One netlink request: the host end is created on the bridge and up, the
    // container end directly in the namespace (no move step).
    host.push({ args: ["link", "add", e.hostVeth, ...mtu, "master", e.bridge, "up", "type", "veth", "peer", "name", e.ifname, ...mtu, ...mac, "netns", spec.netns] });
    inside.push({ netns: spec.netns, args: ["addr", "add", `${e.address}/${e.prefix}`, "dev", e.ifname] });
    if (e.ipv6Address) inside.push({ netns: spec.netns, args: ["addr", "add", `${e.ipv6Address}/${e.ipv6Prefix ?? 64}`, "dev", e.ifname, "nodad"] });
    inside.push({ netns: spec.netns, args: ["link", "set", e.ifname, "up"] });
  }
  if (spec.defaultGateway) inside.push({ netns: spec.netns, args: ["route", "add", "default", "via", spec.defaultGateway] });
  return [...host, ...inside];
}

/** Deleting the namespace destroys the container ends, and with them their veth peers. */
export function planDetach(netns: string, hostVeths: string[]): IpCommand[] {
  return [{ args: ["netns", "del", netns] }, ...hostVeths.map((v) => ({ args: ["link", "del", v] }))];
}
