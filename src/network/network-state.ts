// What stack created on the host for a project's networks, recorded in
// $STATE/projects/<project>/network.json (atomic writes). Records are written
// BEFORE the host is changed, so after a crash the record names everything
// that may exist and the leftovers cleaner can remove it.
import { mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { readJson, writeJsonAtomic } from "../fs/atomic-write.js";
import { SystemError } from "../errors.js";
import type { SubnetAssignment } from "./ipam.js";
import type { PublishedPort } from "./ports.js";

export interface NetworkRecord extends SubnetAssignment {
  key: string;
  /** Real (global) name. */
  name: string;
  bridge: string;
  internal: boolean;
  /** Created by another project (or `stack network create`): never removed by this one. */
  external: boolean;
  mtu?: number;
  labels: Record<string, string>;
  driverOpts: Record<string, string>;
}

export interface EndpointRecord {
  /** Network real name. */
  network: string;
  bridge: string;
  hostVeth: string;
  ifname: string;
  address: string;
  ipv6Address?: string;
  macAddress?: string;
  /** Names this container answers to on this network besides its service and container names. */
  aliases: string[];
}

export interface ContainerNetworkRecord {
  container: string;
  service: string;
  /** undefined for network_mode host; the netns of another container for service:/container: modes. */
  netns?: string;
  /** true when the netns belongs to this container (created and deleted with it). */
  ownsNetns: boolean;
  endpoints: EndpointRecord[];
  links: Array<{ service: string; alias: string }>;
}

export interface ProjectNetworkState {
  version: 1;
  project: string;
  networks: Record<string, NetworkRecord>;
  containers: Record<string, ContainerNetworkRecord>;
  ports: PublishedPort[];
}

export function emptyNetworkState(project: string): ProjectNetworkState {
  return { version: 1, project, networks: {}, containers: {}, ports: [] };
}

/** Host-wide facts shared by every project: the ip_forward value found before stack's first network. */
export interface HostNetworkState {
  ipForwardBefore?: string;
}

export class NetworkStateStore {
  constructor(private readonly stateDir: string) {}

  private projectFile(project: string): string {
    return join(this.stateDir, "projects", project, "network.json");
  }

  private hostFile(): string {
    return join(this.stateDir, "network-host.json");
  }

  read(project: string): ProjectNetworkState {
    try {
      return readJson(this.projectFile(project), emptyNetworkState(project));
    } catch (e) {
      throw new SystemError(`${this.projectFile(project)}: the network state file is unreadable`, { hint: "remove the file after removing the project's netns/links by hand (ip netns list, ip link)", cause: e });
    }
  }

  /**
   * Atomic replace. `durable: false` skips the fsyncs (5–15 ms on the
   * development VM, most of an attach): for changes that only record kernel
   * objects (a container's namespace and veths). The rename is still atomic,
   * and a process crash (kill -9) loses nothing, as the written file sits in
   * the page cache; only an OS crash can lose the write, and the namespaces
   * and links it named die with the kernel too. What must survive a reboot —
   * subnets, gateways, published ports — is written durably.
   */
  write(state: ProjectNetworkState, options: { durable?: boolean } = {}): void {
    const path = this.projectFile(state.project);
    if (options.durable ?? true) return writeJsonAtomic(path, state);
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
    renameSync(tmp, path);
  }

  /** Every project's state (to avoid subnets, ports and addresses other projects hold). */
  readAll(): ProjectNetworkState[] {
    let names: string[] = [];
    try {
      names = readdirSync(join(this.stateDir, "projects")).sort();
    } catch {
      return [];
    }
    return names.map((n) => this.read(n)).filter((s) => Object.keys(s.networks).length > 0 || Object.keys(s.containers).length > 0);
  }

  readHost(): HostNetworkState {
    return readJson(this.hostFile(), {});
  }

  writeHost(state: HostNetworkState): void {
    writeJsonAtomic(this.hostFile(), state);
  }
}
