// The engine's ports implemented by the real layers: the image store, the
// network manager, stack's container runtime and the project's supervisor.
// Verbs (up.ts, down.ts …) stay written against the narrow ports; this is the
// one place that knows how the layers fit together for a container:
//
//   create: image rootfs → network attach (netns, hosts, resolv.conf) →
//           published ports → runtime create (overlay, cgroup, spec)
//   start:  runtime start, with the supervisor watching the output FIFOs
//           before the process is spawned (no line lost)
//   stop:   supervisor told first (no restart), then stop signal + grace
//   remove: supervisor forgets, ports and network detached, runtime removes
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { supervisorEntry } from "./supervisor-entry.js";
import { composeStatus } from "./container-status.js";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NotFoundError } from "../errors.js";
import { syncFile, writeFileAtomic } from "../fs/atomic-write.js";
import { FoundImages } from "./found-images.js";
import type { ImageStore } from "../image/store/index.js";
import type { NetworkManager } from "../network/index.js";
import type { ContainerHandle, ContainerRuntime } from "../runtime/index.js";
import type { NetworkNamespace } from "../runtime/oci-spec.js";
import type { ServiceModel, StackModel } from "../schema/model.js";
import type { SupervisorClient } from "../supervisor/client.js";
import type { ContainerStatus as SupervisedStatus } from "../supervisor/protocol.js";
import type { VolumePort } from "./down.js";
import type { ContainerPort, ContainerStatus, CreateRequest, ImageInfo, ImagePort, NetworkPort, ProgressSink } from "./ports.js";
import { realClock } from "./ports.js";
import { readProjectState, statePath, writeProjectState, type ContainerRecord, type ProjectState } from "./state.js";
import type { EngineDeps, StatePort } from "./up.js";

export interface EngineOptions {
  project: string;
  stateDir: string;
  runDir: string;
  warn(message: string): void;
  progress?: ProgressSink;
  /** STACK_RUNTIME (runc | crun), read by the CLI. */
  runtimeOverride?: string;
  /** The supervisor daemon's entry (default: dist/supervisor/main.js of this installation). */
  supervisorEntry?: string;
  /** Builds a service's image when it has `build:` (wired by the CLI when the builder is available). */
  build?: (service: ServiceModel, ref: string) => Promise<ImageInfo>;
  /** Pulls an image (the registry client, wired by the CLI). */
  pull?: (ref: string, service: ServiceModel) => Promise<ImageInfo>;
  /** --build, --no-build, --pull of `up`/`create`/`run`. */
  imageFlags?: import("./image-policy.js").ImageFlags;
}

export interface Engine extends EngineDeps {
  volumes: VolumePort;
  /** The image store (its module graph is loaded on first use: `ps` never needs it). */
  imageStore(): Promise<ImageStore>;
  runtime: ContainerRuntime;
  network: NetworkManager;
  /** The project's supervisor, started when none runs. */
  supervisor(): Promise<SupervisorClient>;
  /** The supervisor when one runs (or is starting); never starts one. */
  runningSupervisor(): Promise<SupervisorClient | undefined>;
  /**
   * For `up -d`: containers start without waiting for a supervisor to boot.
   * When none runs, this engine holds the supervisor's start lock, hands the
   * containers it starts over in a file (their FIFOs and the DNS sockets held
   * open), and launches the daemon at close() without waiting for it; what
   * needs the supervisor before (health, logs) launches it and waits.
   */
  deferSupervisor(): Promise<void>;
  /** Statuses of several recorded containers with one supervisor round trip (ps, wait loops). */
  statusOf(names: string[]): Promise<ContainerStatus[]>;
  /** Removes what a crashed command left of this project: containers, namespaces and endpoints no record keeps. */
  sweep(): Promise<string[]>;
  /**
   * Once no container of the project is left (`down`): stops its supervisor,
   * removes whatever a crash may have left, and drops its state and run
   * folders, but for the run folder's `keep` files (the lock the caller holds).
   */
  forget(keep?: string[]): Promise<void>;
  /**
   * Writes the project state as state.write does, but leaves it out of the
   * fsync at close: for a change only a foreground `run --rm` container's
   * record makes, which dies with the OS anyway (its folder then goes with
   * the next command's sweep; a record it finds without a folder is shown as
   * missing and removed by down).
   */
  writeStateVolatile(s: ProjectState): void;
  /** The runtime handle of a recorded container. */
  handleOf(name: string): ContainerHandle;
  record(name: string): ContainerRecord;
  /** Syncs the state and launches a deferred supervisor: resolves once it is started (or could not be). */
  close(): Promise<void>;
}

/** The image name of a service: `image:`, else `<project>-<service>` for a built one (Compose's rule). */
export function imageRefOf(project: string, service: ServiceModel): string {
  return service.image ?? `${project}-${service.name}`;
}

function defaultSupervisorEntry(): string {
  const here = fileURLToPath(new URL("..", import.meta.url));
  // From dist/ (built) or src/ (tests run the sources): the built daemon either way.
  return supervisorEntry(existsSync(join(here, "supervisor", "main.js")) ? here : join(here, "..", "dist"));
}

export async function openEngine(opts: EngineOptions): Promise<Engine> {
  const [{ NetworkManager }, { LinuxNetworkHost }, { parseResolvConf, renderHostsFile, renderResolvConf }, { openRuntime, namedVolumeDir }, { ensureSupervisor, claimSupervisorStart, SupervisorClient }, { supervisedContainerOf }, { configHash }, { attachRequestFor, networksUsedBy, sharedNamespaceOf }] =
    await Promise.all([
      import("../network/network-manager.js"),
      import("../network/host-system.js"),
      import("../network/host-files.js"),
      import("../runtime/index.js"),
      import("../supervisor/client.js"),
      import("../supervisor/container-spec.js"),
      import("../schema/hash.js"),
      import("../network/service-networks.js"),
    ]);
  const [{ supervisorAnswers, supervisorPaths }, { perlHelper }] = await Promise.all([import("../supervisor/paths.js"), import("../fs/perl-helper.js")]);
  const { readFileSync } = await import("node:fs");
  const project = opts.project;
  let storePromise: Promise<ImageStore> | undefined;
  const imageStore = (): Promise<ImageStore> => {
    storePromise ??= import("../image/store/index.js").then(({ ImageStore }) => new ImageStore(opts.stateDir, { warn: opts.warn }));
    return storePromise;
  };
  let hostResolvers = { nameservers: [] as string[], search: [] as string[] };
  try {
    hostResolvers = parseResolvConf(readFileSync("/etc/resolv.conf", "utf8"));
  } catch {
    // no resolv.conf: containers without stack networks get no resolvers
  }
  // A container's namespace is set up by the perl helper (rtnetlink) and the host's long-lived ip: no process per
  // container. nft, iptables and the route read are forked by the same helper, which serves other requests while
  // they run; bin/stack may have started it early, with the reads (src/cli/prestart.ts).
  const helper = perlHelper();
  const network = new NetworkManager({ host: new LinuxNetworkHost(undefined, helper ? { inside: helper, commands: helper } : {}), stateDir: opts.stateDir, hostResolvers });
  const runtime = openRuntime({ stateDir: opts.stateDir, runDir: opts.runDir, ...(opts.runtimeOverride ? { runtimeOverride: opts.runtimeOverride } : {}) });

  // Every change is written at once (atomic: a killed command leaves a whole file), but fsynced
  // once, when the engine closes: an up of 20 containers wrote (and blocked on) 40 fsyncs before.
  let cached: ProjectState | undefined;
  let unsynced = false;
  const state: StatePort = {
    read() {
      cached ??= readProjectState(opts.stateDir, project);
      return cached;
    },
    write(s) {
      cached = s;
      writeProjectState(opts.stateDir, s, { durable: false });
      unsynced = true;
    },
  };
  const syncState = () => {
    if (!unsynced || !cached) return;
    unsynced = false;
    // What was last written is what is cached (every write goes through state.write): synced as it is.
    const file = statePath(opts.stateDir, project);
    if (existsSync(file)) syncFile(file);
  };
  const record = (name: string): ContainerRecord => {
    const r = state.read().containers[name];
    if (!r) throw new NotFoundError(`no container ${JSON.stringify(name)} in project ${JSON.stringify(project)}`, { hint: "`stack ps -a` lists the project's containers" });
    return r;
  };
  const handleOf = (name: string) => runtime.load(project, record(name).id);
  /** The container's post_start or pre_stop hooks (none for one-off `run` containers); the failure, if one failed. */
  const hooksOf = async (r: ContainerRecord, h: ContainerHandle, which: "post_start" | "pre_stop") => {
    const service = r.config as ServiceModel;
    if (r.oneOff || !service[which]?.length) return undefined;
    const { runLifecycleHooks } = await import("./lifecycle-hooks.js");
    return await runLifecycleHooks(service, which, r.name, (argv, options) => runtime.exec(h, argv, options));
  };
  const loadHandle = (r: ContainerRecord): ContainerHandle | undefined => {
    try {
      return runtime.load(project, r.id);
    } catch {
      return undefined;
    }
  };

  // One connection per engine, shared by concurrent callers (a scaled `up` starts many containers at once).
  let client: Promise<SupervisorClient> | undefined;
  // Set by deferSupervisor when no supervisor ran: the start lock is ours until close() launches the daemon.
  let launch: import("../supervisor/client.js").SupervisorLaunch | undefined;
  const supervisor = (): Promise<SupervisorClient> => {
    client ??= launch ? launch.connect() : ensureSupervisor(project, opts.stateDir, opts.runDir, { entry: opts.supervisorEntry ?? defaultSupervisorEntry() });
    client.catch(() => (client = undefined));
    return client;
  };
  const runningSupervisor = async (): Promise<SupervisorClient | undefined> => {
    if (client) return client;
    if (launch) return undefined; // its containers are handed over; it is launched when the command ends
    const paths = supervisorPaths(opts.runDir, project);
    if (!(await supervisorAnswers(paths))) return undefined;
    client ??= SupervisorClient.connect(paths.socket);
    client.catch(() => (client = undefined));
    return client;
  };
  const deferSupervisor = async (): Promise<void> => {
    if (client || launch) return;
    // The daemon is forked by the perl helper when there is one (it binds the DNS sockets too): see DaemonLauncher.
    const claimed = await claimSupervisorStart(project, opts.stateDir, opts.runDir, { entry: opts.supervisorEntry ?? defaultSupervisorEntry(), ...(helper ? { launcher: helper } : {}) });
    if (claimed instanceof SupervisorClient) client = Promise.resolve(claimed);
    else launch = claimed;
  };

  let foundImages: FoundImages<Awaited<ReturnType<ImageStore["resolve"]>>> | undefined;
  const images: ImagePort = {
    async ensure(service) {
      const ref = imageRefOf(project, service);
      const store = await imageStore();
      foundImages ??= new FoundImages((r) => store.resolve(r));
      const local = await foundImages.resolve(ref);
      const { decideImage } = await import("./image-policy.js");
      const { lastPulledAt } = await import("../image/registry/pull-record.js");
      const decision = decideImage(service, !!local, opts.imageFlags ?? {}, new Date(), service.image ? lastPulledAt(opts.stateDir, ref) : undefined);
      if (decision === "local" && local) return { ref, digest: local.digest };
      if (decision !== "local") foundImages.forget(ref);
      if (decision === "build" && opts.build) {
        opts.progress?.({ service: service.name, container: service.name, phase: "building", detail: ref });
        return await opts.build(service, ref);
      }
      if (decision === "pull" && opts.pull) {
        opts.progress?.({ service: service.name, container: service.name, phase: "pulling", detail: ref });
        try {
          return await opts.pull(ref, service);
        } catch (e) {
          if (local) {
            opts.warn(`pull of ${ref} for ${service.name} failed; using the local image: ${(e as Error).message}`);
            return { ref, digest: local.digest };
          }
          throw e;
        }
      }
      throw new NotFoundError(`services.${service.name}: image ${JSON.stringify(ref)} is not in the local store`, {
        hint: service.build
          ? "build it with `stack build` (or drop --no-build)"
          : service.pull_policy === "never"
            ? `pull_policy is never: import it with \`stack image import FILE ${ref}\` or pull it with \`stack image pull ${ref}\``
            : `pull it with \`stack pull ${service.name}\`, or import a root filesystem with \`stack image import FILE ${ref}\``,
      });
    },
  };

  const networks: NetworkPort = {
    async ensure(model, services) {
      // A published port another program or project holds fails `up` before anything starts.
      const publishing = services.flatMap((s) => (model.services[s]?.ports.length ? [{ service: s, ports: model.services[s]!.ports }] : []));
      if (publishing.length > 0) await serially(() => network.checkPublishedPorts(model.name, publishing));
      const wanted = networksUsedBy(model, services);
      // The firewall is applied while the containers are created and attached; start() waits for it.
      if (wanted.length > 0) await network.ensureNetworks(model.name, wanted, { deferFirewall: true });
      // The supervisor that serves DNS boots after the containers: bind its sockets now, so that no container's query is refused.
      if (launch?.pending && !client) {
        const { dnsListenAddresses, reserveDnsSockets } = await import("../network/index.js");
        const endpoints = dnsListenAddresses(network.readState(project), 53);
        if (endpoints.length > 0) await launch.reserveDns(endpoints, reserveDnsSockets);
      }
    },
    async removeUnused(p) {
      await network.removeNetworks(p);
    },
    ready: () => network.firewallSettled(),
    prepare(model, services) {
      const wanted = networksUsedBy(model, services);
      if (wanted.length > 0) network.prefetch(model.name, wanted);
    },
  };

  // Network changes read-modify-write network.json around awaited host commands: one at a time.
  let networkQueue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = networkQueue.then(work);
    networkQueue = next.catch(() => undefined);
    return next;
  };

  const supervisedOf = (r: ContainerRecord, h: ContainerHandle) => supervisedContainerOf(r.config as ServiceModel, { id: r.id, index: r.index, dir: h.dir });

  /**
   * The namespace a new container joins, and its hosts and resolv.conf. The
   * network layer makes them, but for `network_mode: none`: the runtime makes
   * that namespace (runc brings its loopback up), so no process is spent on it,
   * and a `service:X`/`container:X` of such a container joins X's namespace by
   * the runtime's path.
   */
  const networkOf = async (service: ServiceModel, name: string): Promise<{ netns: NetworkNamespace; files: { hostsFile: string; resolvConf: string } }> => {
    const req = attachRequestFor(service, name);
    const mode = service.network_mode;
    const shared = sharedNamespaceOf(mode);
    const peer = shared ? unnetworkedPeer(shared) : undefined;
    if (mode === "none" || peer) {
      const files = {
        hostsFile: renderHostsFile({ hostname: req.hostname ?? name, domainname: req.domainname, addresses: [], aliases: [], extraHosts: req.extraHosts.map((h) => (h.ip === "host-gateway" ? { ...h, ip: "127.0.0.1" } : h)) }),
        resolvConf: renderResolvConf({ hostNameservers: hostResolvers.nameservers, hostSearch: hostResolvers.search, dns: req.dns, dnsSearch: req.dnsSearch, dnsOpt: req.dnsOpt }),
      };
      return { netns: peer ? { mode: "path", path: runtime.namespacePath(peer) } : { mode: "none" }, files };
    }
    const attach = await serially(async () => {
      const a = await network.attachContainer(project, req);
      try {
        if (service.ports.length > 0 && a.mode === "netns" && a.addresses.length > 0) await network.publishPorts(project, name, service.ports, { via: "dnat" });
      } catch (e) {
        await network.detachContainer(project, name).catch(() => undefined);
        throw e;
      }
      return a;
    });
    return { netns: attach.mode === "host" ? { mode: "host" } : { mode: "path", path: attach.netnsPath! }, files: attach };
  };
  /** The running container a `service:X`/`container:X` mode names when X has no network record (its mode is none). */
  const unnetworkedPeer = ({ kind, target }: { kind: "service" | "container"; target: string }): ContainerHandle | undefined => {
    const records = Object.values(state.read().containers).sort((a, b) => a.name.localeCompare(b.name));
    const peer = records.find((r) => !r.oneOff && (kind === "service" ? r.service === target : r.name === target));
    if (!peer || (peer.config as ServiceModel | undefined)?.network_mode !== "none") return undefined;
    if (network.readState(project).containers[peer.name]) return undefined;
    return loadHandle(peer);
  };

  const containers: ContainerPort = {
    async create(req: CreateRequest) {
      const { service, name } = req;
      const id = randomBytes(8).toString("hex");
      const image = await (await imageStore()).rootfsOf(req.image.ref);
      const dir = join(opts.stateDir, "projects", project, "containers", id);
      mkdirSync(dir, { recursive: true });
      let attached = false;
      let command: string[] | undefined;
      try {
        const { netns, files } = await networkOf(service, name);
        attached = netns.mode !== "none";
        const etcFiles = { hosts: join(dir, "hosts"), resolvConf: join(dir, "resolv.conf") };
        // In the container's new folder (its record is written once it is created): what dies with the OS.
        writeFileAtomic(etcFiles.hosts, files.hostsFile, 0o644, { durable: false, fresh: true });
        writeFileAtomic(etcFiles.resolvConf, files.resolvConf, 0o644, { durable: false, fresh: true });
        const volumeNames = Object.fromEntries(Object.values(req.project.volumes).map((v) => [v.key, v.name]));
        const volumesFrom = service.volumes_from.map((f) => {
          const source = f.kind === "container" ? f.name : Object.values(state.read().containers).find((c) => c.service === f.name && !c.oneOff)?.name;
          if (!source) throw new NotFoundError(`services.${service.name}.volumes_from: no container of ${JSON.stringify(f.name)} exists`, { hint: "create it first (depends_on orders this)" });
          return { handle: handleOf(source), read_only: f.read_only };
        });
        ({ command } = await runtime.create({
          project,
          id,
          service,
          image: image.config,
          lowerdirs: image.lowerdirs,
          network: netns,
          hostname: service.hostname ?? id.slice(0, 12),
          etcFiles,
          volumeNames,
          volumesFrom,
          annotations: { "stack.project": project, "stack.service": service.name, "stack.container": name },
          ...(req.ephemeral ? { ephemeral: true } : {}),
        }));
      } catch (e) {
        if (attached) {
          await serially(async () => {
            await network.unpublishPorts(project, name).catch(() => undefined);
            await network.detachContainer(project, name).catch(() => undefined);
          });
        }
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
      return { id, ...(command ? { command } : {}) };
    },

    async start(name) {
      const r = record(name);
      const h = runtime.load(project, r.id);
      await network.firewallSettled(); // isolation and forwarding in place before the container runs
      const deferred = !client && launch?.pending ? launch : undefined;
      if (deferred) {
        const spec = supervisedOf(r, h);
        await runtime.start(h, 10_000, { beforeSpawn: async () => deferred.handOver(spec, Date.now()), keepOutput: (fds, paths) => deferred.hold(fds, paths) });
      } else {
        const sup = await supervisor();
        await runtime.start(h, 10_000, { beforeSpawn: () => sup.watch(supervisedOf(r, h)) });
      }
      // The container runs on when a hook fails: the failure is the start's error.
      const failed = await hooksOf(r, h, "post_start");
      if (failed) throw failed;
    },

    async stop(name, timeoutMs) {
      const r = record(name);
      const h = loadHandle(r);
      if (!h) return; // its folder is gone (a crash mid-remove): nothing runs
      const sup = await runningSupervisor();
      await sup?.stopping([r.id]);
      const service = r.config as ServiceModel;
      // A failed pre_stop hook is told, and the container stopped all the same.
      if (service.pre_stop?.length && (await runtime.status(h)).status === "running") {
        const failed = await hooksOf(r, h, "pre_stop");
        if (failed) opts.warn(`${failed.message} (stopping ${name} all the same)`);
      }
      await runtime.stop(h, { graceMs: timeoutMs ?? service.stop_grace_period ?? 10_000 });
    },

    async kill(name, signal) {
      const r = record(name);
      if (/^(SIG)?(KILL|TERM|INT|9|15|2)$/i.test(signal)) await (await runningSupervisor())?.stopping([r.id]);
      await runtime.kill(runtime.load(project, r.id), signal);
    },

    async remove(name) {
      const r = record(name);
      const sup = await runningSupervisor();
      // A one-off run in the foreground was never supervised: nothing to tell.
      const supervised = sup ? (await sup.status()).some((s) => s.id === r.id) : false;
      if (supervised) await sup!.stopping([r.id]);
      const h = loadHandle(r);
      if (h) await runtime.remove(h); // else its folder is gone already: only the network side is left
      if (supervised) await sup!.forget(r.id);
      await serially(async () => {
        await network.unpublishPorts(project, name);
        await network.detachContainer(project, name);
      });
    },

    async status(name) {
      return (await statusOf([name]))[0]!;
    },

    async lastLogLines(name, count) {
      const r = record(name);
      const sup = await supervisor();
      const lines: string[] = [];
      for await (const l of sup.logs({ services: [r.service], tail: count })) if (l.container === r.id) lines.push(l.l);
      return lines.slice(-count);
    },
  };

  /** Statuses of several recorded containers with one supervisor round trip. */
  const statusOf = async (names: string[]): Promise<ContainerStatus[]> => {
    // Health is the supervisor's: a deferred one is launched (and waited for) when a container asked about has a healthcheck.
    const needsHealth = launch?.pending && !client && names.some((n) => hasHealthcheck(state.read().containers[n]?.config as ServiceModel | undefined));
    const sup = needsHealth ? await supervisor() : await runningSupervisor();
    const supervised = new Map<string, SupervisedStatus>((sup ? await sup.status() : []).map((s) => [s.id, s]));
    const ports = network.readState(project).ports;
    return Promise.all(names.map(async (name) => {
      const r = state.read().containers[name];
      const base = { name, service: r?.service ?? "", index: r?.index ?? 0 };
      if (!r) return { ...base, state: "missing" as const };
      let h: ContainerHandle;
      try {
        h = runtime.load(project, r.id);
      } catch {
        return { ...base, state: "missing" as const };
      }
      const rs = await runtime.status(h);
      const startedAt = mtimeOf(h.pidFile);
      const finishedAt = rs.status === "exited" ? mtimeOf(h.exitFile) : undefined;
      return composeStatus(base, { ...rs, ...(startedAt ? { startedAt } : {}), ...(finishedAt ? { finishedAt } : {}) }, supervised.get(r.id), ports);
    }));
  };

  const volumes: VolumePort = {
    async removeProjectVolumes(model: StackModel) {
      const removed: string[] = [];
      for (const v of Object.values(model.volumes).sort((a, b) => a.name.localeCompare(b.name))) {
        if (v.external) continue;
        const dir = dirname(namedVolumeDir(opts.stateDir, v.name));
        if (!existsSync(dir)) continue;
        rmSync(dir, { recursive: true, force: true });
        removed.push(v.name);
      }
      return removed;
    },
  };

  return {
    images,
    networks,
    containers,
    statusOf,
    state,
    hash: (service, digest) => configHash(service, digest),
    progress: opts.progress ?? (() => undefined),
    warn: opts.warn,
    clock: realClock,
    volumes,
    imageStore,
    runtime,
    network,
    supervisor,
    runningSupervisor,
    deferSupervisor,
    handleOf,
    record,
    writeStateVolatile(s) {
      cached = s;
      writeProjectState(opts.stateDir, s, { durable: false });
    },
    async sweep() {
      const records = Object.values(state.read().containers);
      const removed = await runtime.cleanupLeftovers(project, new Set(records.map((r) => r.id)));
      removed.push(...(await serially(() => network.removeStrays(project, new Set(records.map((r) => r.name))))));
      return removed;
    },
    async forget(keep = ["lock"]) {
      const sup = await runningSupervisor();
      if (sup) {
        await sup.shutdown().catch(() => undefined);
        void client?.then((c) => c.close(), () => undefined);
        client = undefined;
        const pidFile = supervisorPaths(opts.runDir, project).pidFile;
        for (let i = 0; i < 100 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 20));
      }
      await runtime.cleanupLeftovers(project, new Set());
      await serially(() => network.cleanLeftovers(project));
      rmSync(join(opts.stateDir, "projects", project), { recursive: true, force: true });
      cached = undefined;
      unsynced = false;
      const runDir = join(opts.runDir, project);
      let files: string[] = [];
      try {
        files = readdirSync(runDir);
      } catch {
        // no run folder
      }
      for (const f of files) if (!keep.includes(f)) rmSync(join(runDir, f), { recursive: true, force: true });
    },
    close() {
      syncState();
      cached = undefined; // the lock goes with the close: a later read reads the file again
      const launched = launch?.launch();
      void client?.then((c) => c.close(), () => undefined);
      client = undefined;
      return launched ?? Promise.resolve();
    },
  };
}

function hasHealthcheck(service: ServiceModel | undefined): boolean {
  const hc = service?.healthcheck;
  return !!hc && !hc.disable && hc.test[0] !== "NONE";
}

function mtimeOf(path: string): string | undefined {
  try {
    return statSync(path).mtime.toISOString();
  } catch {
    return undefined;
  }
}
