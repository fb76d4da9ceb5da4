// IPAM: which subnet a new network gets, and which address a container gets
// on it. Pure: the host's routes and the subnets other stack networks hold
// come in as data (the executor reads them with `ip -j route`).
//
// Default pool: 172.30.0.0/15 split into /24s (512 networks). Docker's own
// defaults start at 172.17.0.0/16 and count upwards, so starting at 172.30
// keeps stack clear of a co-installed Docker in the common case; any subnet
// already routed on the host is skipped whatever the pool.
import { ConflictError, InvalidInputError } from "../errors.js";
import type { NetworkModel } from "../schema/model.js";
import {
  formatIpv4,
  formatSubnet,
  isIpv6,
  parseIpv4,
  parseIpv4Subnet,
  subnetContains,
  subnetSize,
  subnetsOverlap,
  type Ipv4Subnet,
} from "./cidr.js";

export interface AddressPool {
  /** The range the pool carves networks out of, e.g. "172.30.0.0/15". */
  base: string;
  /** Prefix length of each network taken from it, e.g. 24. */
  size: number;
}

export const defaultAddressPools: AddressPool[] = [{ base: "172.30.0.0/15", size: 24 }];

/** The addressing of one network, as recorded in state. */
export interface SubnetAssignment {
  subnet: string;
  gateway: string;
  /** Container addresses come from here when set (ipam.config[].ip_range). */
  ipRange?: string;
  /** Addresses never handed out (ipam.config[].aux_addresses). */
  reserved: string[];
  ipv6?: { subnet: string; gateway: string };
}

/** One route of `ip -j route` (only the destination matters). */
export interface HostRoute {
  dst: string;
}

/** The subnets a new network must not overlap: every routed destination except `default`. */
export function occupiedSubnets(routes: HostRoute[], held: string[]): string[] {
  const out = routes.map((r) => r.dst).filter((d) => d !== "default" && !isIpv6(d));
  return [...out, ...held.filter((d) => !isIpv6(d))].sort();
}

function parseOrThrow(value: string, path: string, what: string): Ipv4Subnet {
  const s = parseIpv4Subnet(value);
  if (!s) throw new InvalidInputError(`${path}: ${JSON.stringify(value)} is not an IPv4 ${what}`, { hint: `write it like "172.30.5.0/24"` });
  return s;
}

function addressIn(value: string, subnet: Ipv4Subnet, path: string): number {
  const ip = parseIpv4(value);
  if (ip === undefined) throw new InvalidInputError(`${path}: ${JSON.stringify(value)} is not an IPv4 address`, { hint: `write it like "172.30.5.10"` });
  if (!subnetContains(subnet, ip)) throw new InvalidInputError(`${path}: ${JSON.stringify(value)} is outside the subnet ${formatSubnet(subnet)}`, { hint: "choose an address inside the network's subnet" });
  return ip;
}

function ipv6Gateway(subnet: string): string {
  const prefix = subnet.split("/")[0] ?? subnet;
  return prefix.endsWith("::") ? `${prefix}1` : prefix;
}

/**
 * The subnet for `network`: its ipam.config when given (checked against the
 * occupied subnets), else the first pool slice that overlaps none of them.
 */
export function chooseSubnet(network: NetworkModel, occupied: string[], pools: AddressPool[] = defaultAddressPools): SubnetAssignment {
  const base = `networks.${network.key}.ipam.config`;
  const taken = occupied.map((o) => parseIpv4Subnet(o)).filter((s): s is Ipv4Subnet => s !== undefined);
  const configs = network.ipam.config.map((c, i) => ({ c, path: `${base}[${i}]` }));
  const v4 = configs.find(({ c }) => c.subnet === undefined || !isIpv6(c.subnet));
  const v6 = network.enable_ipv6 ? configs.find(({ c }) => c.subnet !== undefined && isIpv6(c.subnet)) : undefined;
  const ipv6 = v6?.c.subnet ? { subnet: v6.c.subnet, gateway: v6.c.gateway ?? ipv6Gateway(v6.c.subnet) } : undefined;

  if (v4?.c.subnet !== undefined) {
    const { c, path } = v4;
    const subnet = parseOrThrow(c.subnet!, `${path}.subnet`, "subnet");
    if (subnet.prefix > 30) throw new InvalidInputError(`${path}.subnet: ${JSON.stringify(c.subnet)} is too small for a network`, { hint: "use a prefix of /30 or shorter" });
    const clash = taken.find((t) => subnetsOverlap(t, subnet));
    if (clash) {
      throw new ConflictError(`${path}.subnet: ${JSON.stringify(c.subnet)} overlaps ${formatSubnet(clash)}, which is already routed on this host or held by another stack network`, {
        hint: "choose another subnet, or remove the network that holds it",
      });
    }
    const gateway = c.gateway !== undefined ? addressIn(c.gateway, subnet, `${path}.gateway`) : subnet.base + 1;
    let ipRange: string | undefined;
    if (c.ip_range !== undefined) {
      const r = parseOrThrow(c.ip_range, `${path}.ip_range`, "range");
      if (!(subnetContains(subnet, r.base) && r.prefix >= subnet.prefix)) {
        throw new InvalidInputError(`${path}.ip_range: ${JSON.stringify(c.ip_range)} is outside the subnet ${formatSubnet(subnet)}`, { hint: "choose a range inside the subnet" });
      }
      ipRange = formatSubnet(r);
    }
    const reserved = Object.keys(c.aux_addresses)
      .sort()
      .map((k) => formatIpv4(addressIn(c.aux_addresses[k]!, subnet, `${path}.aux_addresses.${k}`)));
    return { subnet: formatSubnet(subnet), gateway: formatIpv4(gateway), ...(ipRange ? { ipRange } : {}), reserved, ...(ipv6 ? { ipv6 } : {}) };
  }

  for (const pool of pools) {
    const range = parseOrThrow(pool.base, "address pool", "range");
    const step = 2 ** (32 - pool.size);
    for (let b = range.base; b < range.base + subnetSize(range); b += step) {
      const candidate: Ipv4Subnet = { base: b, prefix: pool.size };
      if (taken.some((t) => subnetsOverlap(t, candidate))) continue;
      return { subnet: formatSubnet(candidate), gateway: formatIpv4(b + 1), reserved: [], ...(ipv6 ? { ipv6 } : {}) };
    }
  }
  throw new ConflictError(`networks.${network.key}: no free subnet left in the address pools (${pools.map((p) => `${p.base} split into /${p.size}`).join(", ")})`, {
    hint: "remove unused networks (stack down in other projects), or set networks.<name>.ipam.config[0].subnet",
  });
}

/**
 * The address for a container on a network: `requested` when given (it must
 * be inside the subnet and free), else the lowest free address of the
 * ip_range (or subnet), skipping the network and broadcast addresses, the
 * gateway, reserved ones and `taken`.
 */
export function allocateAddress(net: SubnetAssignment, taken: string[], requested: string | undefined, path: string): string {
  const subnet = parseOrThrow(net.subnet, path, "subnet");
  const blocked = new Set([net.gateway, ...net.reserved, ...taken]);
  if (requested !== undefined) {
    const ip = addressIn(requested, subnet, path);
    const text = formatIpv4(ip);
    if (blocked.has(text) || ip === subnet.base || ip === subnet.base + subnetSize(subnet) - 1) {
      throw new ConflictError(`${path}: ${JSON.stringify(requested)} is already in use on ${net.subnet}`, { hint: "choose another static address, or remove the static address to get one assigned" });
    }
    return text;
  }
  const range = net.ipRange ? parseOrThrow(net.ipRange, path, "range") : subnet;
  const first = Math.max(range.base, subnet.base + 1);
  const last = Math.min(range.base + subnetSize(range), subnet.base + subnetSize(subnet) - 1);
  for (let ip = first; ip < last; ip++) {
    const text = formatIpv4(ip);
    if (!blocked.has(text)) return text;
  }
  throw new ConflictError(`${path}: no free address left in ${net.ipRange ?? net.subnet}`, { hint: "use a larger subnet or ip_range, or fewer containers on this network" });
}

/** IPv6 addresses are handed out as `<prefix>::<n>` (n from 2), text only: subnets must be written as "prefix::/len". */
export function allocateIpv6Address(net: { subnet: string; gateway: string }, taken: string[], requested: string | undefined): string {
  if (requested !== undefined) return requested;
  const prefix = (net.subnet.split("/")[0] ?? "").replace(/::$/, "");
  const blocked = new Set([net.gateway, ...taken]);
  for (let n = 2; ; n++) {
    const candidate = `${prefix}::${n.toString(16)}`;
    if (!blocked.has(candidate)) return candidate;
  }
}
