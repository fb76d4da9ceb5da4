// The network of RUN steps: one network namespace per build, attached
// through the network layer to the bridge network `_build_<hash of the state dir>` of the
// reserved project `_build` (egress through stack's NAT), made on the first
// RUN that needs it and removed with the build. The bridge goes with the
// last build that uses it.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../fs/atomic-write.js";
import type { NetworkManager } from "../../network/index.js";
import type { NetworkNamespace } from "../../runtime/index.js";
import type { ExtraHostModel, NetworkModel } from "../../schema/model.js";
import { BUILD_PROJECT } from "./run-step.js";

export interface BuildNamespace {
  network: NetworkNamespace;
  etcFiles: { resolvConf: string; hosts: string };
}

/** One build network per state dir (its bridge name derives from the network name, global on the host). */
export function buildNetworkName(stateDir: string): string {
  return `${BUILD_PROJECT}_${createHash("sha256").update(stateDir).digest("hex").slice(0, 8)}`;
}

const buildNetwork = (stateDir: string): NetworkModel => ({
  key: "default",
  name: buildNetworkName(stateDir),
  driver: "bridge",
  driver_opts: {},
  external: false,
  internal: false,
  attachable: false,
  enable_ipv6: false,
  ipam: { config: [], options: {} },
  labels: {},
});

// Builds of one process (several services at once) change the build network one at a time.
const queues = new Map<string, Promise<unknown>>();
function serialized<T>(stateDir: string, f: () => Promise<T>): Promise<T> {
  const prev = queues.get(stateDir) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(f);
  queues.set(stateDir, next);
  return next;
}

export class BuildNetwork {
  private manager?: NetworkManager;
  private attached?: Promise<BuildNamespace>;
  private readonly container = `build-${process.pid}-${randomBytes(4).toString("hex")}`;

  constructor(private readonly stateDir: string, private readonly tmpDir: string, private readonly extraHosts: ExtraHostModel[]) {}

  namespace(): Promise<BuildNamespace> {
    this.attached ??= serialized(this.stateDir, () => this.attach());
    return this.attached;
  }

  private async attach(): Promise<BuildNamespace> {
    let resolv = "";
    try {
      resolv = readFileSync("/etc/resolv.conf", "utf8");
    } catch {
      // no host resolvers: the container gets none either
    }
    // Loaded on the first RUN that needs a network: a cached build never pays for it.
    const { LinuxNetworkHost, NetworkManager, parseResolvConf } = await import("../../network/index.js");
    const hostResolvers = parseResolvConf(resolv);
    this.manager = new NetworkManager({ host: new LinuxNetworkHost(), stateDir: this.stateDir, hostResolvers });
    await this.manager.ensureNetworks(BUILD_PROJECT, [buildNetwork(this.stateDir)]);
    const r = await this.manager.attachContainer(BUILD_PROJECT, {
      container: this.container,
      service: "build",
      networks: { default: { aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} } },
      hostname: "buildkitsandbox",
      extraHosts: this.extraHosts,
      // No embedded DNS server serves the build network: RUN steps use the
      // host's resolvers (as `docker build` does), except loopback ones,
      // which the build namespace cannot reach.
      dns: hostResolvers.nameservers.filter((ns) => !/^(127\.|::1$)/.test(ns)),
      dnsSearch: [],
      dnsOpt: [],
      links: [],
    });
    const hosts = join(this.tmpDir, "hosts");
    const resolvConf = join(this.tmpDir, "resolv.conf");
    writeFileAtomic(hosts, r.hostsFile);
    writeFileAtomic(resolvConf, r.resolvConf);
    return { network: r.netnsPath ? { mode: "path", path: r.netnsPath } : { mode: "host" }, etcFiles: { hosts, resolvConf } };
  }

  /** Detaches the build's namespace and removes the build network when no other build uses it. */
  async close(): Promise<void> {
    if (!this.attached || !this.manager) return;
    try {
      await this.attached;
    } catch {
      // attach failed half-way: clean what is recorded
    }
    const manager = this.manager;
    await serialized(this.stateDir, async () => {
      await manager.detachContainer(BUILD_PROJECT, this.container);
      await manager.removeNetworks(BUILD_PROJECT);
    });
  }
}
