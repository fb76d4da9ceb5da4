// The network layer's API for the engine: networks, container attachment,
// published ports (DNAT), teardown and crash leftovers. Each method plans
// with the pure modules, records the plan in the project's network.json, then
// applies it through the injected NetworkHost.
import { ConflictError, InvalidInputError, NotFoundError } from "../errors.js";
import type { ExtraHostModel, LinkModel, NetworkModel, PortModel, ServiceNetworkModel } from "../schema/model.js";
import { parseIpv4Subnet } from "./cidr.js";
import { planHostForwardRules, planStackTable, type DnatRule, type FirewallBridge, type HostForwardFilter, type StackTableView } from "./firewall.js";
import { renderHostsFile, renderResolvConf } from "./host-files.js";
import type { NetworkHost } from "./host-system.js";
import { allocateAddress, allocateIpv6Address, chooseSubnet, defaultAddressPools, occupiedSubnets, type AddressPool, type HostRoute } from "./ipam.js";
import { planAttach, planBridge, planBridgeRemoval, planDetach, type EndpointSpec } from "./link-plan.js";
import { bridgeName, firewallOwner, netnsName, netnsPrefix, vethHostName } from "./names.js";
import { NetworkStateStore, type ContainerNetworkRecord, type EndpointRecord, type NetworkRecord, type ProjectNetworkState } from "./network-state.js";
import { findPortHolder, planPortRequests, portsCollide, type PortRequest, type PublishedPort } from "./ports.js";
import { sharedNamespaceOf } from "./service-networks.js";

export interface NetworkManagerOptions {
  host: NetworkHost;
  stateDir: string;
  pools?: AddressPool[];
  /** The host's resolvers (from /etc/resolv.conf, read at the edge): for containers without embedded DNS. */
  hostResolvers?: { nameservers: string[]; search: string[] };
}

export interface AttachRequest {
  container: string;
  service: string;
  /** "none" | "host" | "bridge" | "service:NAME" | "container:NAME"; undefined = the service's networks. */
  networkMode?: string;
  /** The service's networks by key (model.services.X.networks). */
  networks: Record<string, ServiceNetworkModel>;
  hostname?: string;
  domainname?: string;
  macAddress?: string;
  extraHosts: ExtraHostModel[];
  dns: string[];
  dnsSearch: string[];
  dnsOpt: string[];
  links: LinkModel[];
}

export interface AttachResult {
  /** "host": run in the host's network namespace (no OCI network namespace entry). */
  mode: "netns" | "host";
  /** For the OCI spec's linux.namespaces network `path`. */
  netnsPath?: string;
  addresses: Array<{ network: string; ifname: string; address: string; ipv6Address?: string }>;
  /** Contents for the container's /etc/hosts and /etc/resolv.conf (the runtime bind-mounts them). */
  hostsFile: string;
  resolvConf: string;
}

/** 02:42:a.b.c.d in hex, the locally administered MAC Docker derives from a container's IPv4 address. */
export function macAddressFor(ipv4: string): string {
  return ["02", "42", ...ipv4.split(".").map((o) => Number(o).toString(16).padStart(2, "0"))].join(":");
}

function prefixOf(subnet: string): number {
  return Number(subnet.split("/")[1]);
}

/** Endpoint order inside the container (eth0, eth1 …): higher priority first, then network key. */
export function orderServiceNetworks(networks: Record<string, ServiceNetworkModel>): string[] {
  return Object.keys(networks).sort((a, b) => networks[b]!.priority - networks[a]!.priority || a.localeCompare(b));
}

export class NetworkManager {
  private readonly host: NetworkHost;
  private readonly store: NetworkStateStore;
  private readonly pools: AddressPool[];
  private readonly hostResolvers: { nameservers: string[]; search: string[] };
  private readonly owner: string;

  constructor(options: NetworkManagerOptions) {
    this.host = options.host;
    this.store = new NetworkStateStore(options.stateDir);
    this.owner = firewallOwner(options.stateDir);
    this.pools = options.pools ?? defaultAddressPools;
    this.hostResolvers = options.hostResolvers ?? { nameservers: [], search: [] };
  }

  /** Ends what the host keeps running between calls (see NetworkHost.close); the manager stays usable. */
  close(): Promise<void> {
    return this.host.close();
  }

  readState(project: string): ProjectNetworkState {
    return this.store.read(project);
  }

  /** Every project's state: the input of DNS records and port-holder lookups. */
  readAllStates(): ProjectNetworkState[] {
    return this.store.readAll();
  }

  /**
   * Creates the given networks of the project that do not exist yet (bridge,
   * gateway address, firewall). External networks are looked up among the
   * networks other projects created; a missing one is a NotFoundError.
   */
  async ensureNetworks(project: string, networks: NetworkModel[], options: { deferFirewall?: boolean } = {}): Promise<ProjectNetworkState> {
    // Containers are attached next: the host may make their namespaces meanwhile.
    this.host.prepareNamespaces();
    const state = this.store.read(project);
    const others = this.store.readAll().filter((s) => s.project !== project);
    const created: NetworkRecord[] = [];
    const links = new Set(this.host.listLinks());
    // A network to create means a firewall change: its reads (two processes) run beside the route read and the bridges.
    if (this.toCreate(state, networks, links)) this.prefetchFirewallView();
    let routes: Promise<HostRoute[]> | undefined = this.prefetchedRoutes;
    this.prefetchedRoutes = undefined;
    for (const net of [...networks].sort((a, b) => a.key.localeCompare(b.key))) {
      const known = state.networks[net.name];
      if (known) {
        // Recorded but gone from the host (a reboot): made again with the same addressing.
        if (!known.external && !links.has(known.bridge)) created.push(known);
        continue;
      }
      if (net.driver !== "bridge" && !net.external) {
        throw new InvalidInputError(`networks.${net.key}.driver: ${JSON.stringify(net.driver)} is not supported by stack`, { hint: 'use driver "bridge" (the default)' });
      }
      if (net.external) {
        const owner = others.map((s) => s.networks[net.name]).find((n) => n && !n.external);
        if (!owner) {
          throw new NotFoundError(`networks.${net.key}: external network ${JSON.stringify(net.name)} does not exist`, { hint: `create it first (\`stack network create ${net.name}\` or \`stack up\` in the project that defines it)` });
        }
        state.networks[net.name] = { ...owner, key: net.key, external: true };
        continue;
      }
      const held = [...others, state].flatMap((s) => Object.values(s.networks).map((n) => n.subnet));
      // Read once (the bridges are made after the loop: no route of this call's appears meanwhile).
      routes ??= this.host.readRoutes();
      const assignment = chooseSubnet(net, occupiedSubnets(await routes, held), this.pools);
      const record: NetworkRecord = {
        ...assignment,
        key: net.key,
        name: net.name,
        bridge: bridgeName(net.name),
        internal: net.internal,
        external: false,
        ...(net.mtu ? { mtu: net.mtu } : {}),
        labels: net.labels,
        driverOpts: net.driver_opts,
      };
      state.networks[net.name] = record;
      created.push(record);
    }
    if (created.length === 0) {
      this.store.write(state);
      return state;
    }
    this.enableForwarding();
    this.store.write(state);
    for (const r of created) {
      // A bridge left by a crash under the same name is replaced.
      await this.host.runIp(planBridgeRemoval(r.bridge), { tolerant: true });
      await this.host.runIp(
        planBridge({ bridge: r.bridge, gateway: r.gateway, prefix: prefixOf(r.subnet), mtu: r.mtu, ipv6Gateway: r.ipv6?.gateway, ipv6Prefix: r.ipv6 ? prefixOf(r.ipv6.subnet) : undefined }),
      );
      // Published ports reached on 127.0.0.1 are routed out this bridge.
      this.host.writeSysctl(`net.ipv4.conf.${r.bridge}.route_localnet`, "1");
    }
    const firewall = this.applyFirewall();
    if (options.deferFirewall) {
      firewall.catch(() => undefined); // the caller learns of a failure from firewallSettled()
      return state;
    }
    await firewall;
    return state;
  }

  /**
   * A hint that ensureNetworks(project, networks) comes soon: when it will
   * make a network, the host's routes and firewall are read now, in the
   * background, for it to use (`up` calls this before it looks at images and
   * plans). Reads only; a failed read is read again by ensureNetworks.
   */
  prefetch(project: string, networks: NetworkModel[]): void {
    if (!this.toCreate(this.store.read(project), networks, new Set(this.host.listLinks()))) return;
    if (!this.prefetchedRoutes) {
      // A failed read is tried once more when wanted; a rejection nobody waits for (no ensure came) is no crash.
      const routes = this.host.readRoutes().catch(() => this.host.readRoutes());
      routes.catch(() => undefined);
      this.prefetchedRoutes = routes;
    }
    this.prefetchFirewallView();
  }

  /** The host's routes as read ahead by prefetch(), for the next ensureNetworks (once). */
  private prefetchedRoutes: Promise<HostRoute[]> | undefined;

  /** Whether ensureNetworks would make (or make again) one of these networks. */
  private toCreate(state: ProjectNetworkState, networks: NetworkModel[], links: Set<string>): boolean {
    return networks.some((n) => !n.external && (!state.networks[n.name] || !links.has(state.networks[n.name]!.bridge)));
  }

  /** Creates the container's namespace and interfaces (or resolves host/none/shared modes) and renders its hosts and resolv.conf. */
  async attachContainer(project: string, req: AttachRequest): Promise<AttachResult> {
    const state = this.store.read(project);
    const mode = req.networkMode ?? "bridge";
    const hostname = req.hostname ?? req.container;
    // extra_hosts "NAME:host-gateway" (as in Compose): the host as the container reaches it.
    const hostsFor = (addresses: string[], hostGateway = "127.0.0.1") =>
      renderHostsFile({ hostname, domainname: req.domainname, addresses, aliases: [], extraHosts: req.extraHosts.map((h) => (h.ip === "host-gateway" ? { ...h, ip: hostGateway } : h)) });
    const resolvFor = (embeddedDns?: string) =>
      renderResolvConf({ embeddedDns, hostNameservers: this.hostResolvers.nameservers, hostSearch: this.hostResolvers.search, dns: req.dns, dnsSearch: req.dnsSearch, dnsOpt: req.dnsOpt });

    if (mode === "host") {
      state.containers[req.container] = { container: req.container, service: req.service, ownsNetns: false, endpoints: [], links: [] };
      this.store.write(state);
      return { mode: "host", addresses: [], hostsFile: hostsFor([]), resolvConf: resolvFor() };
    }
    const shared = sharedNamespaceOf(mode);
    if (shared) {
      const { kind, target } = shared;
      const peer = Object.values(state.containers)
        .sort((a, b) => a.container.localeCompare(b.container))
        .find((c) => (kind === "service" ? c.service === target : c.container === target));
      if (!peer) throw new NotFoundError(`services.${req.service}.network_mode: ${JSON.stringify(mode)} names no running container of project ${JSON.stringify(project)}`, { hint: `start ${target} first (it is a dependency)` });
      state.containers[req.container] = { container: req.container, service: req.service, netns: peer.netns, ownsNetns: false, endpoints: [], links: [] };
      this.store.write(state);
      const first = peer.endpoints[0];
      return {
        mode: peer.netns ? "netns" : "host",
        ...(peer.netns ? { netnsPath: this.host.netnsPath(peer.netns) } : {}),
        addresses: peer.endpoints.map((e) => ({ network: e.network, ifname: e.ifname, address: e.address })),
        hostsFile: hostsFor(peer.endpoints.map((e) => e.address), first ? state.networks[first.network]?.gateway : undefined),
        resolvConf: resolvFor(first ? state.networks[first.network]?.gateway : undefined),
      };
    }
    if (mode !== "none" && mode !== "bridge" && mode !== "default") {
      throw new InvalidInputError(`services.${req.service}.network_mode: ${JSON.stringify(mode)} is not a network mode`, { hint: 'use "none", "host", "bridge", "service:NAME" or "container:NAME"' });
    }

    const netns = netnsName(project, req.container);
    const keys = mode === "none" ? [] : orderServiceNetworks(req.networks);
    const all = this.store.readAll().filter((s) => s.project !== project);
    const endpoints: EndpointRecord[] = [];
    const specs: EndpointSpec[] = [];
    let defaultGateway: string | undefined;
    keys.forEach((key, i) => {
      const net = Object.values(state.networks).find((n) => n.key === key);
      if (!net) throw new NotFoundError(`services.${req.service}.networks.${key}: network ${JSON.stringify(key)} has not been created`, { hint: "declare it under the top-level networks: key (ensureNetworks runs first)" });
      const sn = req.networks[key]!;
      const taken = [state, ...all].flatMap((s) => Object.values(s.containers).flatMap((c) => c.endpoints.filter((e) => e.network === net.name && c.container !== req.container)));
      const address = allocateAddress(net, taken.map((e) => e.address), sn.ipv4_address, `services.${req.service}.networks.${key}.ipv4_address`);
      const ipv6Address = net.ipv6 ? allocateIpv6Address(net.ipv6, taken.flatMap((e) => (e.ipv6Address ? [e.ipv6Address] : [])), sn.ipv6_address) : undefined;
      // Like Docker, the MAC follows the address (02:42 + the IPv4 bytes): a recreated container
      // that gets the same address answers at once, instead of after the neighbour caches of the
      // host and the other containers expire (~45 s of silence after every recreate otherwise).
      const macAddress = sn.mac_address ?? (i === 0 ? req.macAddress : undefined) ?? macAddressFor(address);
      const endpoint: EndpointRecord = {
        network: net.name,
        bridge: net.bridge,
        hostVeth: vethHostName(netns, net.name),
        ifname: sn.interface_name ?? `eth${i}`,
        address,
        ...(ipv6Address ? { ipv6Address } : {}),
        ...(macAddress ? { macAddress } : {}),
        aliases: [...sn.aliases].sort(),
      };
      endpoints.push(endpoint);
      specs.push({ ...endpoint, prefix: prefixOf(net.subnet), mtu: net.mtu, ipv6Prefix: net.ipv6 ? prefixOf(net.ipv6.subnet) : undefined });
      if (defaultGateway === undefined && !net.internal) defaultGateway = net.gateway;
    });
    const record: ContainerNetworkRecord = { container: req.container, service: req.service, netns, ownsNetns: true, endpoints, links: req.links.map((l) => ({ ...l })) };
    const previous = state.containers[req.container];
    state.containers[req.container] = record;
    this.store.write(state, { durable: false });
    if (previous?.ownsNetns && previous.netns) await this.host.runIp(planDetach(previous.netns, previous.endpoints.map((e) => e.hostVeth)), { tolerant: true });
    await this.host.runIp(planAttach({ netns, createNetns: true, endpoints: specs, defaultGateway }));
    const firstNet = endpoints[0] ? state.networks[endpoints[0].network] : undefined;
    return {
      mode: "netns",
      netnsPath: this.host.netnsPath(netns),
      addresses: endpoints.map((e) => ({ network: e.network, ifname: e.ifname, address: e.address, ...(e.ipv6Address ? { ipv6Address: e.ipv6Address } : {}) })),
      hostsFile: hostsFor(endpoints.slice(0, 1).map((e) => e.address), firstNet?.gateway),
      resolvConf: resolvFor(firstNet?.gateway),
    };
  }

  /** Removes the container's namespace and veths, its published ports, and its record. */
  async detachContainer(project: string, container: string): Promise<void> {
    const state = this.store.read(project);
    const record = state.containers[container];
    const hadPorts = state.ports.some((p) => p.container === container);
    if (!record && !hadPorts) return;
    if (record?.ownsNetns && record.netns) await this.host.runIp(planDetach(record.netns, record.endpoints.map((e) => e.hostVeth)), { tolerant: true });
    delete state.containers[container];
    state.ports = state.ports.filter((p) => p.container !== container);
    // A forgotten published port must not come back after a reboot.
    this.store.write(state, { durable: !hadPorts });
    if (hadPorts) await this.applyFirewall();
  }

  /**
   * Chooses host ports for a container's `ports` (checking each by binding),
   * records them, and with `via: "dnat"` forwards them in the kernel; with
   * `via: "proxy"` the caller runs startPortProxy() for each returned
   * mapping. A port held by another stack project is a ConflictError naming it.
   */
  async publishPorts(project: string, container: string, ports: PortModel[], options: { via: "dnat" | "proxy"; path?: string }): Promise<PublishedPort[]> {
    const state = this.store.read(project);
    const record = state.containers[container];
    const address = record?.endpoints[0]?.address;
    if (!record || !address) throw new NotFoundError(`container ${JSON.stringify(container)} has no network address to publish ports to`, { hint: "attach it to a network first (network_mode host needs no published ports)" });
    const requests = planPortRequests(ports, options.path ?? `services.${record.service}`);
    // The container's own previous mappings (a re-publish) do not hold its ports.
    const own = { ...state, ports: state.ports.filter((p) => p.container !== container) };
    const everyone = [own, ...this.store.readAll().filter((s) => s.project !== project)];
    const chosen: PublishedPort[] = [];
    for (const r of requests) {
      const hostPort = await this.choosePort(r, everyone, chosen);
      chosen.push({ service: record.service, container, hostIp: r.hostIp, hostPort, protocol: r.protocol, target: r.target, containerAddress: address });
    }
    state.ports = [...state.ports.filter((p) => p.container !== container), ...chosen];
    this.store.write(state);
    if (options.via === "dnat") await this.applyFirewall();
    return chosen;
  }

  /**
   * The check `up` runs before anything starts: every fixed published port of
   * the given services must be free on the host and not held by another
   * project (the project's own current mappings are about to be replaced).
   */
  async checkPublishedPorts(project: string, services: Array<{ service: string; ports: PortModel[] }>): Promise<void> {
    const everyone = this.store.readAll().filter((s) => s.project !== project);
    const chosen: PublishedPort[] = [];
    const mine = new Set(this.store.read(project).ports.map((p) => `${p.hostIp}|${p.hostPort}|${p.protocol}`));
    for (const { service, ports } of [...services].sort((a, b) => a.service.localeCompare(b.service))) {
      for (const r of planPortRequests(ports, `services.${service}`)) {
        if (!r.candidates) continue;
        if (r.candidates.length === 1 && mine.has(`${r.hostIp}|${r.candidates[0]}|${r.protocol}`)) continue;
        const hostPort = await this.choosePort(r, everyone, chosen);
        chosen.push({ service, container: "", hostIp: r.hostIp, hostPort, protocol: r.protocol, target: r.target, containerAddress: "" });
      }
    }
  }

  private async choosePort(r: PortRequest, everyone: ProjectNetworkState[], chosen: PublishedPort[]): Promise<number> {
    const probeIp = r.hostIp === "" ? "0.0.0.0" : r.hostIp;
    if (!r.candidates) {
      for (;;) {
        const p = await this.host.pickFreePort(probeIp, r.protocol);
        const wanted = { hostIp: r.hostIp, hostPort: p, protocol: r.protocol };
        if (!chosen.some((c) => portsCollide(c, wanted)) && !findPortHolder(everyone, wanted)) return p;
      }
    }
    let firstHolder: string | undefined;
    for (const p of r.candidates) {
      const wanted = { hostIp: r.hostIp, hostPort: p, protocol: r.protocol };
      const holder = findPortHolder(everyone, wanted);
      const sibling = chosen.find((c) => portsCollide(c, wanted));
      if (holder || sibling) {
        firstHolder ??= holder ? `stack project ${JSON.stringify(holder.project)} (service ${holder.service})` : `another ports entry of this stack (service ${sibling!.service})`;
        continue;
      }
      if (await this.host.isPortFree(probeIp, p, r.protocol)) return p;
      firstHolder ??= "another program on this host";
    }
    const what = r.candidates.length === 1 ? `port ${r.candidates[0]}` : `every port of ${r.candidates[0]}-${r.candidates[r.candidates.length - 1]}`;
    throw new ConflictError(`${probeIp}: ${what}/${r.protocol} is already in use by ${firstHolder}`, { hint: "stop what holds it, or publish another host port" });
  }

  /** Forgets a container's published ports (and their DNAT rules). */
  async unpublishPorts(project: string, container: string): Promise<void> {
    const state = this.store.read(project);
    if (!state.ports.some((p) => p.container === container)) return;
    state.ports = state.ports.filter((p) => p.container !== container);
    this.store.write(state);
    await this.applyFirewall();
  }

  /**
   * Removes the project's networks that no container of any project uses
   * (`keys` limits it to some), or with `all` every container and network the
   * project has. External networks are only forgotten.
   */
  async removeNetworks(project: string, options: { all?: boolean } = {}): Promise<void> {
    const state = this.store.read(project);
    if (options.all) {
      for (const c of Object.values(state.containers).sort((a, b) => a.container.localeCompare(b.container))) {
        if (c.ownsNetns && c.netns) await this.host.runIp(planDetach(c.netns, c.endpoints.map((e) => e.hostVeth)), { tolerant: true });
      }
      state.containers = {};
      state.ports = [];
    }
    const users = [state, ...this.store.readAll().filter((s) => s.project !== project)].flatMap((s) =>
      Object.values(s.containers).flatMap((c) => c.endpoints.map((e) => ({ project: s.project, network: e.network }))),
    );
    const removable = Object.values(state.networks).filter((n) => !users.some((u) => u.network === n.name));
    for (const n of removable.filter((n) => !n.external)) {
      const borrower = this.store.readAll().find((s) => s.project !== project && s.networks[n.name]?.external);
      if (borrower) continue; // another project still declares it as external: keep it for them
      await this.host.runIp(planBridgeRemoval(n.bridge), { tolerant: true });
    }
    for (const n of removable) {
      const kept = !n.external && this.store.readAll().some((s) => s.project !== project && s.networks[n.name]?.external);
      if (!kept) delete state.networks[n.name];
    }
    this.store.write(state);
    await this.applyFirewall();
    this.restoreForwardingWhenUnused();
  }

  /**
   * Before `up` changes a project: detaches the containers the network state
   * records but the caller no longer has (a crash between attach and the
   * engine's record), and deletes `stack-<project>.*` namespaces no record
   * names. Networks and the containers in `keep` are left alone.
   */
  async removeStrays(project: string, keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const c of Object.keys(this.store.read(project).containers).sort()) {
      if (keep.has(c)) continue;
      await this.unpublishPorts(project, c);
      await this.detachContainer(project, c);
      removed.push(c);
    }
    const state = this.store.read(project);
    const recorded = new Set(Object.values(state.containers).flatMap((c) => (c.netns ? [c.netns] : [])));
    const stray = this.host.listNetns().filter((n) => n.startsWith(netnsPrefix(project)) && !recorded.has(n));
    if (stray.length > 0) await this.host.runIp(stray.map((n) => ({ args: ["netns", "del", n] })), { tolerant: true });
    return [...removed, ...stray];
  }

  /**
   * After a crash: removes the project's namespaces found on the host
   * (`stack-<project>-*`), and everything its network.json records. Safe to
   * run when nothing is left.
   */
  async cleanLeftovers(project: string): Promise<void> {
    const prefix = netnsPrefix(project);
    const state = this.store.read(project);
    const recorded = new Set(Object.values(state.containers).flatMap((c) => (c.netns && c.ownsNetns ? [c.netns] : [])));
    const stray = this.host.listNetns().filter((n) => n.startsWith(prefix) && !recorded.has(n));
    if (stray.length > 0) await this.host.runIp(stray.map((n) => ({ args: ["netns", "del", n] })), { tolerant: true });
    await this.removeNetworks(project, { all: true });
  }

  /** The host's firewall as read ahead by ensureNetworks, for the next applyFirewall (once). */
  private prefetchedView: Promise<[StackTableView | undefined, HostForwardFilter]> | undefined;

  /**
   * Reads stack's nft table and the host's forward filter now, for the next
   * firewall change: what it reads is stack's own table (this state dir's
   * chains change only through this manager's changes, applied in order) and
   * the host filter's policy and stack rules, which a change rewrites whole.
   */
  private prefetchFirewallView(): void {
    // A change still being applied would make what is read now stale.
    if (this.prefetchedView || this.firewallPending > 0) return;
    const view = Promise.all([this.host.readStackTable(), this.host.readForwardFilter()]);
    view.catch(() => undefined); // read again by applyFirewall then
    this.prefetchedView = view;
  }

  /** The inputs of this manager's last complete applyFirewall(). */
  private appliedFirewall: string | undefined;
  /** The last firewall change asked for: each one starts when the one before has ended (its failure included). */
  private firewallChain: Promise<void> = Promise.resolve();
  private firewallPending = 0;

  /**
   * Resolves once every firewall change asked for so far is applied; rejects
   * with the first failure of the last one. With ensureNetworks'
   * `deferFirewall`, the caller sets up its containers meanwhile and waits
   * for this before any of them runs: no container may run before the
   * isolation and forward rules of its network are in place.
   */
  firewallSettled(): Promise<void> {
    return this.firewallChain;
  }

  /**
   * Renders this state directory's part of stack's nft table, and the host
   * forward-filter accepts, from every project's state. Calls are applied one
   * after the other, each from the state as it is when it starts: two
   * overlapping ones could otherwise apply an older state last.
   */
  applyFirewall(): Promise<void> {
    this.firewallPending++;
    const next = this.firewallChain
      .catch(() => undefined)
      .then(() => this.applyFirewallNow())
      .finally(() => this.firewallPending--);
    this.firewallChain = next;
    return next;
  }

  private async applyFirewallNow(): Promise<void> {
    const prefetched = this.prefetchedView;
    this.prefetchedView = undefined;
    const states = this.store.readAll();
    const seen = new Map<string, FirewallBridge>();
    for (const s of states) for (const n of Object.values(s.networks)) seen.set(n.bridge, { bridge: n.bridge, subnet: n.subnet, internal: n.internal });
    const bridges = [...seen.values()].filter((b) => parseIpv4Subnet(b.subnet));
    const dnat: DnatRule[] = states.flatMap((s) =>
      s.ports.map((p) => ({ hostIp: p.hostIp || undefined, hostPort: p.hostPort, protocol: p.protocol, containerAddress: p.containerAddress, containerPort: p.target })),
    );
    // The host filter's accepts are shared too: keep every stack bridge present on the host.
    const present = new Set(this.host.listLinks());
    // Rendered from every project's state of this state dir: what another command applied since
    // holds ours too, so the same inputs twice in one command (down, then its final clean-up) apply once.
    const inputs = JSON.stringify([bridges, dnat, [...present].filter((l) => l.startsWith("stk")).sort()]);
    if (inputs === this.appliedFirewall) return;
    // stack's nft table and the host's iptables filter are independent: both are read at once, then both written at once.
    const [view, filter] = (await prefetched?.catch(() => undefined)) ?? (await Promise.all([this.host.readStackTable(), this.host.readForwardFilter()]));
    const script = planStackTable(this.owner, bridges, dnat, view);
    const wanted = [...new Set([...bridges.map((b) => b.bridge), ...stackBridgesIn(filter.stackRules).filter((b) => present.has(b))])];
    await Promise.all([script ? this.host.runNft(script) : undefined, this.applyHostForwardRules(planHostForwardRules(filter, wanted))]);
    this.appliedFirewall = inputs;
  }

  /** The host filter's changes in one process; rule by rule only when that transaction fails (a stale rule another command removed meanwhile). */
  private async applyHostForwardRules(ops: string[][]): Promise<void> {
    if (ops.length === 0) return;
    try {
      await this.host.runIptablesBatch(ops);
      return;
    } catch {
      // Nothing of it was applied: each change alone below says which one fails, and why.
    }
    for (const args of ops) {
      try {
        await this.host.runIptables(args);
      } catch (e) {
        // Another project's command removed that stale rule since the filter was read: it is gone, as wanted.
        if (args[0] === "-D" && /Bad rule|does a matching rule exist/i.test((e as Error).message)) continue;
        throw e;
      }
    }
  }

  private enableForwarding(): void {
    const hostState = this.store.readHost();
    if (hostState.ipForwardBefore === undefined) {
      this.store.writeHost({ ipForwardBefore: this.host.readSysctl("net.ipv4.ip_forward") });
    }
    this.host.writeSysctl("net.ipv4.ip_forward", "1");
  }

  private restoreForwardingWhenUnused(): void {
    const anyNetwork = this.store.readAll().some((s) => Object.values(s.networks).some((n) => !n.external));
    const hostState = this.store.readHost();
    if (anyNetwork || hostState.ipForwardBefore === undefined) return;
    this.host.writeSysctl("net.ipv4.ip_forward", hostState.ipForwardBefore);
    this.store.writeHost({});
  }
}

/** The bridges named in stack's accept rules of the host filter (other state directories' ones included). */
function stackBridgesIn(rules: string[]): string[] {
  return rules.flatMap((l) => {
    const m = /-[io] (stk\w+)/.exec(l);
    return m ? [m[1]!] : [];
  });
}
