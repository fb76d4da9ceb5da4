// The names the embedded DNS answers, per network, from every project's
// network state. Pure. A name is visible only to clients on a network that
// has it (the server decides by the client's source address).
import type { ProjectNetworkState } from "./network-state.js";

export interface DnsZone {
  network: string;
  subnet: string;
  /** Lower-case name → addresses (IPv4 and IPv6), sorted. */
  names: Record<string, string[]>;
}

export function buildDnsZones(states: ProjectNetworkState[]): DnsZone[] {
  const zones = new Map<string, DnsZone>();
  const add = (zone: DnsZone, name: string, addresses: string[]) => {
    const key = name.toLowerCase();
    zone.names[key] = [...new Set([...(zone.names[key] ?? []), ...addresses])].sort();
  };
  for (const s of [...states].sort((a, b) => a.project.localeCompare(b.project))) {
    for (const net of Object.values(s.networks)) {
      if (!zones.has(net.name)) zones.set(net.name, { network: net.name, subnet: net.subnet, names: {} });
    }
    const containers = Object.values(s.containers).sort((a, b) => a.container.localeCompare(b.container));
    for (const c of containers) {
      for (const e of c.endpoints) {
        const zone = zones.get(e.network);
        if (!zone) continue;
        const addresses = [e.address, ...(e.ipv6Address ? [e.ipv6Address] : [])];
        for (const name of [c.service, c.container, ...e.aliases]) add(zone, name, addresses);
      }
    }
    // links: an alias of a service, on every network the linking container shares with it.
    for (const c of containers) {
      for (const link of c.links) {
        for (const target of containers.filter((t) => t.service === link.service)) {
          for (const e of target.endpoints) {
            if (!c.endpoints.some((own) => own.network === e.network)) continue;
            add(zones.get(e.network)!, link.alias, [e.address, ...(e.ipv6Address ? [e.ipv6Address] : [])]);
          }
        }
      }
    }
  }
  return [...zones.values()].sort((a, b) => a.network.localeCompare(b.network));
}

/**
 * Where a project's supervisor runs the embedded DNS: the gateway of every
 * network the project created (an external network's server belongs to its
 * owner, which answers for every project on it).
 */
export function dnsListenAddresses(state: ProjectNetworkState, port = 53): Array<{ address: string; port: number }> {
  return Object.values(state.networks)
    .filter((n) => !n.external)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((n) => ({ address: n.gateway, port }));
}
