// Test tools: run busybox (or node, for UDP: this busybox's nc has no -u) in a
// network namespace made by the network layer, with the hosts and resolv.conf
// the layer rendered bind-mounted over /etc as the runtime would do it. The
// mounts live in the private mount namespace of `ip netns exec`.
import { execa, type ResultPromise } from "execa";
import { execFileSync } from "node:child_process";
import { mkdirSync, readlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { bridgeName, firewallOwner, netnsPrefix } from "../../../src/network/names.js";
import type { NetworkModel } from "../../../src/schema/model.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";

/** Every network a test of this area declared: what the scoped leak check counts as ours. */
const declaredNetworks = new Set<string>();

export function bridgeNetwork(key: string, project: string, over: Partial<NetworkModel> = {}): NetworkModel {
  declaredNetworks.add(`${project}\0${key}`);
  return { key, name: `${project}_${key}`, driver: "bridge", driver_opts: {}, external: false, internal: false, attachable: false, enable_ipv6: false, ipam: { config: [], options: {} }, labels: {}, ...over };
}

export interface Etc {
  hostsFile: string;
  resolvConf: string;
}

export function writeEtc(dir: string, name: string, etc: Etc): string {
  const d = join(dir, "etc", name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "hosts"), etc.hostsFile);
  writeFileSync(join(d, "resolv.conf"), etc.resolvConf);
  return d;
}

function wrap(ns: string, etcDir: string | undefined, argv: string[]): string[] {
  if (!etcDir) return ["netns", "exec", ns, ...argv];
  const script = `mount --bind ${etcDir}/hosts /etc/hosts && mount --bind ${etcDir}/resolv.conf /etc/resolv.conf && exec "$@"`;
  return ["netns", "exec", ns, "/bin/busybox", "sh", "-c", script, "sh", ...argv];
}

export async function runIn(ns: string, argv: string[], options: { etcDir?: string; timeout?: number; input?: string } = {}) {
  const r = await execa("ip", wrap(ns, options.etcDir, argv), { reject: false, timeout: options.timeout ?? 10_000, input: options.input });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A background process in the namespace; stop() kills exactly it. */
export function startIn(ns: string, argv: string[], etcDir?: string): { proc: ResultPromise; stop: () => Promise<void> } {
  const proc = execa("ip", wrap(ns, etcDir, argv), { reject: false });
  return {
    proc,
    stop: async () => {
      proc.kill("SIGKILL");
      await proc;
    },
  };
}

/** Node one-liner: UDP echo server answering "<tag>:<message>". */
export function udpEchoServer(port: number, tag: string): string[] {
  return [process.execPath, "-e", `const s=require("dgram").createSocket("udp4");s.on("message",(m,r)=>s.send(${JSON.stringify(tag + ":")}+m,r.port,r.address));s.bind(${port})`];
}

/** Node one-liner: resolves `name` with the system resolver, sends one UDP datagram, prints the reply. */
export function udpAsk(name: string, port: number, message: string): string[] {
  return [
    process.execPath,
    "-e",
    `require("dns").lookup(${JSON.stringify(name)},{family:4},(e,a)=>{if(e){console.error(e.message);process.exit(2)}const s=require("dgram").createSocket("udp4");s.on("message",m=>{console.log(String(m));process.exit(0)});s.send(${JSON.stringify(message)},${port},a);setTimeout(()=>process.exit(3),3000)})`,
  ];
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition not met in time");
}

/** Namespaces and links the tests of this area make by hand. */
const scratchNetns = ["stack-test-", "stack-iptest."];
const scratchLinks = ["stkiptest", "stkbench"];

/**
 * assertNoLeaks for this area, scoped to what these tests can have made,
 * because other engineers' stacks and suites run on the same host at the
 * same time: namespaces of the projects declared through bridgeNetwork()
 * (and the scratch ones), the bridges of those networks and any link
 * enslaved to them, this state directory's chains in `table ip stack` (the
 * table itself may be another state directory's), and mounts and processes
 * under `watchDirs`. cgroups and runc state are not looked at: the network
 * tests create none.
 */
export function assertNoNetworkLeaks(
  before: HostSnapshot,
  watchDirs: string[],
  stateDirs = watchDirs.flatMap((d) => ["state", "a", "b"].map((s) => join(d, s))),
  /** Scratch names of a suite that must not see (nor be seen by) the other suites' scratch objects while they run beside it. */
  scratch: { netns: string[]; links: string[] } = { netns: scratchNetns, links: scratchLinks },
): void {
  const networks = [...declaredNetworks].map((n) => n.split("\0") as [string, string]);
  const bridges = new Set(networks.map(([project, key]) => bridgeName(`${project}_${key}`)));
  const prefixes = [...new Set(networks.map(([project]) => netnsPrefix(project))), ...scratch.netns];
  const masterOf = (link: string) => {
    try {
      return basename(readlinkSync(`/sys/class/net/${link}/master`));
    } catch {
      return undefined;
    }
  };
  const ours = (entry: string): boolean => {
    const [kind, item] = [entry.slice(0, entry.indexOf(": ")), entry.slice(entry.indexOf(": ") + 2)];
    if (kind === "netns") return prefixes.some((p) => item.startsWith(p));
    if (kind === "links") return bridges.has(item) || bridges.has(masterOf(item) ?? "") || scratch.links.some((p) => item.startsWith(p));
    return kind === "mounts" || kind === "processes";
  };
  const left = diffSnapshots(before, snapshotHost(watchDirs)).filter(ours);
  const owners = stateDirs.map(firewallOwner);
  let table = "";
  try {
    table = execFileSync("nft", ["list", "table", "ip", "stack"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    // no table: nothing of ours either
  }
  for (const m of table.matchAll(/chain (\w+_([0-9a-f]{8})) \{/g)) if (owners.includes(m[2]!)) left.push(`nft chain: ${m[1]}`);
  if (left.length > 0) throw new Error(`the test left resources behind:\n  ${left.join("\n  ")}`);
}
