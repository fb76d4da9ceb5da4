// Leak checks scoped to what one quickstart project makes, because other
// engineers' tests run on the host at the same time: mounts, runc state and
// processes under the test's folder; the project's namespaces
// (`stack-<project>.`), bridge and veth ends; the build network's bridge of
// the test's state dir; cgroups of the project and of builds; the test state
// dir's chains in the shared nft table.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { buildNetworkName } from "../../../src/image/build/build-network.js";
import { bridgeName, firewallOwner, netnsPrefix, vethHostName } from "../../../src/network/names.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";

export class QuickstartLeaks {
  private readonly before: HostSnapshot;
  private readonly links = new Set<string>();
  private readonly network: string;

  constructor(private readonly dir: string, private readonly project: string, private readonly stateDir: string, private readonly runDir: string) {
    this.before = snapshotHost([dir], [join(runDir, "runc")]);
    this.network = `${project}_default`;
    this.links.add(bridgeName(this.network));
    this.links.add(bridgeName(buildNetworkName(stateDir)));
  }

  /** Notes the veth ends of the project's namespaces while it is up (their names derive from the namespace). */
  recordWhileUp(): void {
    for (const ns of this.namespaces()) this.links.add(vethHostName(ns, this.network));
  }

  private namespaces(): string[] {
    try {
      return readdirSync("/run/netns").filter((n) => n.startsWith(netnsPrefix(this.project)));
    } catch {
      return [];
    }
  }

  /** What is left of the project on the host (empty when nothing is). */
  left(): string[] {
    const diff = diffSnapshots(this.before, snapshotHost([this.dir], [join(this.runDir, "runc")])).filter((item) => {
      const [kind, ...rest] = item.split(": ");
      const what = rest.join(": ");
      if (kind === "netns") return what.startsWith(netnsPrefix(this.project));
      if (kind === "links") return this.links.has(what);
      if (kind === "cgroups") return what.includes(`/stack/${this.project}`);
      if (kind === "nftTables") return false; // the table is shared by every state dir: its chains are checked below
      return true; // mounts, runc state and processes are already scoped to the test's folder
    });
    let ruleset = "";
    try {
      ruleset = execFileSync("nft", ["list", "table", "ip", "stack"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch {
      // no table: nothing of ours either
    }
    const owner = firewallOwner(this.stateDir);
    for (const line of ruleset.split("\n")) if (/^\s*chain /.test(line) && line.includes(`_${owner}`)) diff.push(`nft chain: ${line.trim()}`);
    return diff;
  }

  assertNone(): void {
    const left = this.left();
    if (left.length > 0) throw new Error(`the quickstart left resources behind:\n  ${left.join("\n  ")}`);
  }
}
