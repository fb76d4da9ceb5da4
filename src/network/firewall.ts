// stack's own nftables table, rendered whole from the state of every stack
// network on the host, and the accept rules it adds to a host forward filter
// that would otherwise drop container traffic. Pure: scripts and command
// lists from data; firewall-apply lives in the manager.
//
// `nft -f` applies each script atomically, so the table is always either the
// old or the new set of rules, and nothing else in the host's ruleset is
// touched.

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

/** What exists of `table ip stack` on the host (read with `nft -j list table ip stack`). */
export interface StackTableView {
  chains: string[];
  /** Jump rules of the base chains: which owner chain each one enters. */
  jumps: Array<{ chain: string; target: string; handle: number }>;
}

const baseChains: Array<[string, string]> = [
  ["forward", "type filter hook forward priority 0; policy accept;"],
  ["postrouting", "type nat hook postrouting priority 100; policy accept;"],
  ["prerouting", "type nat hook prerouting priority -100; policy accept;"],
  ["output", "type nat hook output priority -100; policy accept;"],
];

/**
 * The nft script that makes one owner's part of `table ip stack` exactly
 * this. The table is shared by every stack state directory on the host (an
 * "owner": its id is a hash of the directory), so each owner renders only its
 * own chains (`forward_<owner>`, `postrouting_<owner>`, `published_<owner>`,
 * flushed and refilled in one transaction) and the base chains just jump to
 * them. With no bridge left, the owner's jumps and chains go, and the table
 * with the last owner. Isolation rules are written in both directions and
 * against every `stk*` interface, so they hold whichever owner's chain the
 * kernel evaluates first.
 */
export function planStackTable(owner: string, bridges: FirewallBridge[], dnat: DnatRule[], view: StackTableView | undefined): string {
  const own = [`forward_${owner}`, `postrouting_${owner}`, `published_${owner}`];
  const t = `ip ${stackTable}`;
  if (bridges.length === 0) {
    if (!view) return "";
    const mine = view.jumps.filter((j) => own.includes(j.target));
    const others = view.jumps.filter((j) => !own.includes(j.target));
    if (others.length === 0) return `delete table ${t}
`;
    return [...mine.map((j) => `delete rule ${t} ${j.chain} handle ${j.handle}`), ...own.filter((c) => view.chains.includes(c)).map((c) => `delete chain ${t} ${c}`)].join("\n") + "\n";
  }
  const sorted = [...bridges].sort((a, b) => a.bridge.localeCompare(b.bridge));
  const names = sorted.map((b) => b.bridge);
  const forward: string[] = [];
  for (const b of sorted) {
    forward.push(`iifname ${q(b.bridge)} oifname != ${q(b.bridge)} oifname "stk*" drop`, `oifname ${q(b.bridge)} iifname != ${q(b.bridge)} iifname "stk*" drop`);
    if (b.internal) forward.push(`iifname ${q(b.bridge)} oifname != ${q(b.bridge)} drop`, `oifname ${q(b.bridge)} iifname != ${q(b.bridge)} drop`);
  }
  forward.push(`iifname ${set(names)} accept`, `oifname ${set(names)} accept`);
  const postrouting = sorted.filter((b) => !b.internal).map((b) => `oifname != ${q(b.bridge)} ip saddr ${b.subnet} masquerade`);
  // Published ports reached from 127.0.0.1: the DNATed packet still carries a
  // loopback source, which the container could not answer.
  if (dnat.length > 0) postrouting.push(`oifname ${set(names)} ip saddr 127.0.0.0/8 masquerade`);
  const published = [...dnat]
    .sort((a, b) => a.hostPort - b.hostPort || a.protocol.localeCompare(b.protocol) || (a.hostIp ?? "").localeCompare(b.hostIp ?? ""))
    .map((r) => `${r.hostIp && r.hostIp !== "0.0.0.0" ? `ip daddr ${r.hostIp} ` : ""}${r.protocol} dport ${r.hostPort} dnat to ${r.containerAddress}:${r.containerPort}`);

  const lines = [`add table ${t}`, ...baseChains.map(([c, hook]) => `add chain ${t} ${c} { ${hook} }`)];
  for (const c of own) lines.push(`add chain ${t} ${c}`, `flush chain ${t} ${c}`);
  for (const r of forward) lines.push(`add rule ${t} forward_${owner} ${r}`);
  for (const r of postrouting) lines.push(`add rule ${t} postrouting_${owner} ${r}`);
  for (const r of published) lines.push(`add rule ${t} published_${owner} ${r}`);
  const has = (chain: string, target: string) => view?.jumps.some((j) => j.chain === chain && j.target === target) ?? false;
  if (!has("forward", `forward_${owner}`)) lines.push(`add rule ${t} forward jump forward_${owner}`);
  if (!has("postrouting", `postrouting_${owner}`)) lines.push(`add rule ${t} postrouting jump postrouting_${owner}`);
  for (const c of ["prerouting", "output"]) if (!has(c, `published_${owner}`)) lines.push(`add rule ${t} ${c} fib daddr type local jump published_${owner}`);
  return lines.join("\n") + "\n";
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
