// The /etc/hosts and /etc/resolv.conf a container gets (the runtime
// bind-mounts them). Pure: contents from data.
import type { ExtraHostModel } from "../schema/model.js";

export interface HostsFileInput {
  hostname: string;
  domainname?: string;
  /** The container's own addresses (first network first) and names for them (aliases). */
  addresses: string[];
  aliases: string[];
  extraHosts: ExtraHostModel[];
}

export function renderHostsFile(input: HostsFileInput): string {
  const lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];
  const fqdn = input.domainname ? `${input.hostname}.${input.domainname}` : undefined;
  const names = [...new Set([...(fqdn ? [fqdn] : []), input.hostname, ...input.aliases])];
  for (const address of input.addresses) lines.push(`${address}\t${names.join(" ")}`);
  for (const h of input.extraHosts) lines.push(`${h.ip}\t${h.host}`);
  return lines.join("\n") + "\n";
}

export interface ResolvConfInput {
  /** The embedded DNS server's address (the first network's gateway); undefined when the container has no stack network. */
  embeddedDns?: string;
  /** The host's resolvers: used when there is no embedded DNS (network_mode none/host). */
  hostNameservers: string[];
  hostSearch: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOpt: string[];
}

/** Explicit `dns:` wins over the embedded server (as with Docker: then names of other services do not resolve). */
export function renderResolvConf(input: ResolvConfInput): string {
  const servers = input.dns.length > 0 ? input.dns : input.embeddedDns ? [input.embeddedDns] : input.hostNameservers;
  const search = input.dnsSearch.length > 0 ? input.dnsSearch : input.hostSearch;
  const lines = servers.map((s) => `nameserver ${s}`);
  if (search.length > 0) lines.push(`search ${search.join(" ")}`);
  if (input.dnsOpt.length > 0) lines.push(`options ${input.dnsOpt.join(" ")}`);
  return lines.join("\n") + "\n";
}

/** The nameservers and search domains of a resolv.conf text (the host's, read at the edge). */
export function parseResolvConf(text: string): { nameservers: string[]; search: string[] } {
  const nameservers: string[] = [];
  let search: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === "nameserver" && rest[0]) nameservers.push(rest[0]);
    if ((key === "search" || key === "domain") && rest.length > 0) search = rest;
  }
  return { nameservers, search };
}

/** The embedded DNS server's upstreams from the host's resolv.conf text (port 53). */
export function upstreamResolvers(resolvConfText: string): Array<{ address: string; port: number }> {
  return parseResolvConf(resolvConfText).nameservers.map((address) => ({ address, port: 53 }));
}
