// stack's own nftables table, rendered whole from the state of every stack
// network on the host, and the accept rules it adds to a host forward filter
// that would otherwise drop container traffic. Pure: scripts and command
// lists from data; firewall-apply lives in the manager.
//
// Why one table rendered whole: `nft -f` applies the script atomically, so
// the table is always either the old or the new set of rules, and nothing
// else in the host's ruleset is touched.

export const stackTable = "stack";

export interface FirewallBridge {
  bridge: string;
  subnet: string;
  internal: boolean;
}

/** One published port as the kernel forwards it (DNAT). */
export interface DnatRule {
  /** undefined (or "0.0.0.0") = every host address, loopback included. */
  hostIp?: string;
  hostPort: number;
  protocol: "tcp" | "udp";
  containerAddress: string;
  containerPort: number;
}

function q(name: string): string {
  return JSON.stringify(name);
}

function set(names: string[]): string {
  return names.length === 1 ? q(names[0]!) : `{ ${names.map(q).join(", ")} }`;
}

/**
 * The nft script that makes `table ip stack` exactly this (created when
 * absent, replaced when present), or deletes it when there is no bridge.
 */
export function renderStackTable(bridges: FirewallBridge[], dnat: DnatRule[]): string {
  const header = `table ip ${stackTable}\ndelete table ip ${stackTable}\n`;
  if (bridges.length === 0) return header;
  const sorted = [...bridges].sort((a, b) => a.bridge.localeCompare(b.bridge));
  const names = sorted.map((b) => b.bridge);
  const forward: string[] = [];
  for (const b of sorted) {
    const others = names.filter((n) => n !== b.bridge);
    // Isolation: no stack bridge talks to another one, whatever the project.
    if (others.length > 0) forward.push(`iifname ${q(b.bridge)} oifname ${set(others)} drop`);
    // internal: traffic stays on the bridge (no egress, no way in).
    if (b.internal) forward.push(`iifname ${q(b.bridge)} oifname != ${q(b.bridge)} drop`, `oifname ${q(b.bridge)} iifname != ${q(b.bridge)} drop`);
  }
  forward.push(`iifname ${set(names)} accept`, `oifname ${set(names)} accept`);

  const postrouting: string[] = [];
  for (const b of sorted) {
    if (!b.internal) postrouting.push(`oifname != ${q(b.bridge)} ip saddr ${b.subnet} masquerade`);
  }
  // Published ports reached from 127.0.0.1: the DNATed packet still carries a
  // loopback source, which the container could not answer.
  if (dnat.length > 0) postrouting.push(`oifname ${set(names)} ip saddr 127.0.0.0/8 masquerade`);

  const published = [...dnat]
    .sort((a, b) => a.hostPort - b.hostPort || a.protocol.localeCompare(b.protocol) || (a.hostIp ?? "").localeCompare(b.hostIp ?? ""))
    .map((r) => {
      const dst = r.hostIp && r.hostIp !== "0.0.0.0" ? `ip daddr ${r.hostIp} ` : "";
      return `${dst}${r.protocol} dport ${r.hostPort} dnat to ${r.containerAddress}:${r.containerPort}`;
    });

  const chain = (name: string, hook: string, rules: string[]) =>
    `  chain ${name} {\n${hook ? `    ${hook}\n` : ""}${rules.map((r) => `    ${r}\n`).join("")}  }\n`;
  return (
    header +
    `table ip ${stackTable} {\n` +
    chain("forward", "type filter hook forward priority 0; policy accept;", forward) +
    chain("postrouting", "type nat hook postrouting priority 100; policy accept;", postrouting) +
    chain("prerouting", "type nat hook prerouting priority -100; policy accept;", dnat.length > 0 ? ["fib daddr type local jump published"] : []) +
    chain("output", "type nat hook output priority -100; policy accept;", dnat.length > 0 ? ["fib daddr type local jump published"] : []) +
    chain("published", "", published) +
    `}\n`
  );
}

/** What the executor learned about the host's iptables forward filter. */
export interface HostForwardFilter {
  /** `iptables -S FORWARD` policy, undefined when the chain does not exist. */
  forwardPolicy?: string;
  dockerUserExists: boolean;
  /** The `-A …` lines of the chain stack uses that carry stack's comment. */
  stackRules: string[];
}

export const stackComment = "stack";

/** The chain that stack's accept rules go into, or undefined when the host filter does not drop forwarded traffic. */
export function hostForwardChain(filter: HostForwardFilter): string | undefined {
  if (filter.dockerUserExists) return "DOCKER-USER";
  if (filter.forwardPolicy === "DROP") return "FORWARD";
  return undefined;
}

function ruleSpec(chain: string, dir: "-i" | "-o", bridge: string): string {
  return `-A ${chain} ${dir} ${bridge} -m comment --comment ${stackComment} -j ACCEPT`;
}

/**
 * iptables argument lists that bring stack's accept rules in the host's
 * forward filter to one pair (-i and -o) per existing stack bridge: inserts
 * for missing ones, deletes for stale ones (bridges gone, or all of them when
 * the filter no longer needs them).
 */
export function planHostForwardRules(filter: HostForwardFilter, bridges: string[]): string[][] {
  const chain = hostForwardChain(filter);
  const want = chain ? [...bridges].sort().flatMap((b) => [ruleSpec(chain, "-i", b), ruleSpec(chain, "-o", b)]) : [];
  const have = new Set(filter.stackRules.map((l) => l.trim()));
  const ops: string[][] = [];
  for (const line of [...have].sort()) {
    if (!want.includes(line)) ops.push(["-D", ...line.split(/\s+/).slice(1)]);
  }
  for (const line of want) {
    if (!have.has(line)) ops.push(["-I", ...line.split(/\s+/).slice(1, 2), "1", ...line.split(/\s+/).slice(2)]);
  }
  return ops;
}
