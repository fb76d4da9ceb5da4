// From the StackModel to the network layer's requests: which networks the
// given services need, and the attach request of one container. Pure.
import type { NetworkModel, ServiceModel, StackModel } from "../schema/model.js";
import type { AttachRequest } from "./network-manager.js";

function usesBridgeNetworks(service: ServiceModel): boolean {
  return service.network_mode === undefined || service.network_mode === "bridge" || service.network_mode === "default";
}

/** The networks `services` attach to, sorted by key (input of ensureNetworks). */
export function networksUsedBy(model: StackModel, services: string[]): NetworkModel[] {
  const keys = new Set<string>();
  for (const name of services) {
    const service = model.services[name];
    if (service && usesBridgeNetworks(service)) for (const key of Object.keys(service.networks)) keys.add(key);
  }
  return [...keys]
    .sort()
    .flatMap((k) => (model.networks[k] ? [model.networks[k]!] : []));
}

/** The attach request for one container of `service`. */
export function attachRequestFor(service: ServiceModel, container: string): AttachRequest {
  return {
    container,
    service: service.name,
    ...(service.network_mode !== undefined ? { networkMode: service.network_mode } : {}),
    networks: usesBridgeNetworks(service) ? service.networks : {},
    ...(service.hostname !== undefined ? { hostname: service.hostname } : {}),
    ...(service.domainname !== undefined ? { domainname: service.domainname } : {}),
    ...(service.mac_address !== undefined ? { macAddress: service.mac_address } : {}),
    extraHosts: service.extra_hosts,
    dns: service.dns,
    dnsSearch: service.dns_search,
    dnsOpt: service.dns_opt,
    links: service.links,
  };
}

/** `network_mode: service:NAME` / `container:NAME`: whose namespace the container joins; undefined for other modes. */
export function sharedNamespaceOf(mode: string | undefined): { kind: "service" | "container"; target: string } | undefined {
  const m = mode === undefined ? null : /^(service|container):(.+)$/.exec(mode);
  return m ? { kind: m[1] as "service" | "container", target: m[2]! } : undefined;
}
