// The network layer's public surface (see docs/network.md for the contracts).
export { NetworkManager, orderServiceNetworks, type AttachRequest, type AttachResult, type NetworkManagerOptions } from "./network-manager.js";
export { LinuxNetworkHost, type NetworkHost } from "./host-system.js";
export { DnsServer, reserveDnsSockets, type DnsEndpoint, type DnsListenSocket, type DnsServerOptions } from "./dns-server.js";
export { buildDnsZones, dnsListenAddresses, type DnsZone } from "./dns-records.js";
export { startPortProxy, type PortProxy } from "./port-proxy.js";
export { lookupPublishedPort, formatPublishedPort, findPortHolder, type PublishedPort } from "./ports.js";
export { renderHostsFile, renderResolvConf, parseResolvConf, upstreamResolvers } from "./host-files.js";
export { defaultAddressPools, type AddressPool } from "./ipam.js";
export type { ProjectNetworkState, NetworkRecord, ContainerNetworkRecord } from "./network-state.js";
export { attachRequestFor, networksUsedBy } from "./service-networks.js";
