// The container lifecycle for the engine and the supervisor: create (dirs,
// overlay rootfs, volumes, cgroup with limits, config.json), start (a
// detached monitor runs `runc run` and records the exit status), status,
// stop, kill, exec, pause/unpause, stats, remove, and the clean-up of what a
// crash left behind.
//
// Why a monitor: containers must outlive the CLI and the supervisor, and
// their exit code must not be lost. Per container a shell in its own session
// (setsid) runs `runc run --keep` in the foreground and, when it returns,
// writes the status to <containerdir>/exit (temp + rename). Its stdout and
// stderr are the FIFOs <containerdir>/stdout.fifo and stderr.fifo, opened
// read-write before the spawn, so the container never gets EPIPE when nobody
// reads; the supervisor reads them.
import { closeSync, constants, existsSync, type FSWatcher, mkdirSync, openSync, readdirSync, readFileSync, rmSync, watch } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { ConflictError, InvalidInputError, NotFoundError, SystemError } from "../errors.js";
import { writeFileAtomic, writeJsonAtomic } from "../fs/atomic-write.js";
import type { ServiceModel } from "../schema/model.js";
import { ContainerCgroup, listProjectCgroups, removeCgroupTree, type CgroupFs, type CgroupStats } from "./cgroup.js";
import type { CgroupVersion } from "./cgroup-settings.js";
import { serviceLimits, type Limits } from "./cgroup-settings.js";
import type { CommandRunner } from "../fs/command-runner.js";
import type { ImageConfig } from "./image-config.js";
import type { Mounter } from "./mounter.js";
import { readExit, readPidFile, statusFromFiles } from "./status-files.js";
import { resolveDevice, type DeviceStat } from "./devices.js";
import { buildSpec, type NetworkNamespace, type OciMount, type OciProcess, type OciSpec } from "./oci-spec.js";
import type { OciRuntime } from "./oci-runtime.js";
import { readLayeredFile } from "./image-files.js";
import { overlayMount } from "./overlay.js";
import type { HostRlimits } from "./rlimits.js";
import { resolveUser, type UserFiles } from "./user.js";
import { planVolumes } from "./volumes.js";
import { containerEnv } from "./environment.js";
import { containerArgs } from "./command-line.js";
import { everyCapability } from "./capabilities.js";

/**
 * Made by runForeground in the container's folder: no monitor records that
 * container's exit status, so a removal after its command was killed waits
 * for its process to end instead.
 */
const FOREGROUND_MARK = "foreground";

/** A container's own files (spec, handle, hosts, exit status) describe what dies with the OS: no fsync. */
const EPHEMERAL = { durable: false } as const;
/** For the files create() writes into the container's new folder before handle.json, its commit: see WriteOptions.fresh. */
const FRESH = { durable: false, fresh: true } as const;

export interface RuntimeDeps {
  stateDir: string;
  runDir: string;
  /** Where cgroupfs is mounted (/sys/fs/cgroup). */
  cgroupRoot: string;
  cgroupVersion?: CgroupVersion;
  cgroupFs: CgroupFs;
  mounter: Mounter;
  runner: CommandRunner;
  runtime: OciRuntime;
  signal: (pid: number, signal: NodeJS.Signals) => void;
  sleep: (ms: number) => Promise<void>;
  hostRlimits: HostRlimits;
  /** The host's bounding set (capabilitiesOfMask of /proc/self/status's CapBnd); undefined: every capability. */
  hostCapabilities?: readonly string[];
  /** process.arch of the host. */
  arch: string;
  /** Host path of tini-static for `init: true` (undefined when not installed). */
  initBinary?: string;
  /** Pipe buffer for the output FIFOs (up to /proc/sys/fs/pipe-max-size); undefined = the kernel's default. */
  pipeBufferBytes?: number;
  /** Looks up a host device for `devices:` (undefined when absent). */
  statDevice: (path: string) => DeviceStat | undefined;
  /** perl's path: the monitor is one perl process instead of sh + perl + mv (src/fs/perl-helper.ts says why processes count). */
  perl?: string;
  /** Forks a container's monitor from the perl helper (PerlHelper.monitor); without it, the monitor is spawned from this process. */
  spawnMonitor?: (stdoutFifo: string, stderrFifo: string, exitFile: string, pipeBytes: number, argv: string[]) => Promise<void>;
  /** Makes FIFOs without a process (the perl helper); mkfifo(1) without it. */
  mkfifo?: (paths: string[], mode: number) => Promise<void>;
  /** Whether the kernel knows overlay's `volatile` option (5.10+), for overlays the OCI runtime mounts (a host mount tries it and falls back). */
  overlayVolatile?: boolean;
  /** Starts what creating and removing containers will use (the perl helper), ahead of need. */
  warm?: () => void;
  /**
   * Whether a process lives (kill -0). With it, status() answers from the pid
   * and exit files and the freezer without spawning the OCI runtime: `stack
   * ps` of 100 containers must not start 100 processes.
   */
  alive?: (pid: number) => boolean;
}

export interface CreateConfig {
  project: string;
  /** Unique runtime id, [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
  id: string;
  service: ServiceModel;
  image: ImageConfig;
  /** Image layer dirs, top-most first. */
  lowerdirs: string[];
  network: NetworkNamespace;
  /** Default: the first 12 characters of the id. */
  hostname?: string;
  etcFiles?: { resolvConf?: string; hosts?: string; hostname?: string };
  /** Top-level volume key → real name. */
  volumeNames?: Record<string, string>;
  /** Handles of the containers named in volumes_from, in that order. */
  volumesFrom?: Array<{ handle: ContainerHandle; read_only: boolean }>;
  annotations?: Record<string, string>;
  /**
   * Removed when it exits (`run --rm` in the foreground): a volatile overlay
   * (see overlayMount), never mounted again, which the OCI runtime mounts in
   * the container's own mount namespace when create can do without the
   * mounted rootfs (see runtimeMountedFiles); such a container must only be
   * run with runForeground (it has no output FIFOs).
   */
  ephemeral?: boolean;
}

/** Everything needed to find a container again (saved as <dir>/handle.json). */
export interface ContainerHandle {
  id: string;
  project: string;
  service: string;
  /** $STACK_STATE_DIR/projects/<project>/containers/<id>: the bundle dir. */
  dir: string;
  rootfs: string;
  /** Relative cgroup path: stack/<project>/<id>. */
  cgroup: string;
  stopSignal: string;
  stdoutFifo: string;
  stderrFifo: string;
  /** The file the monitor writes the exit status into. */
  exitFile: string;
  pidFile: string;
  /** Volume mounts (for volumes_from of later containers). */
  volumeMounts: OciMount[];
  /** The cgroup limits, written again when an exited container starts anew (the runtime's delete removes the cgroup). */
  limits?: Limits;
  /** What it runs: entrypoint + command as resolved against the image (no init in front), for `ps`. */
  command?: string[];
  /** The image layers (top-most first) when the OCI runtime mounts the overlay itself: nothing is mounted at `rootfs` on the host. */
  layers?: string[];
}

export type ContainerStatusName = "created" | "running" | "paused" | "exited";

export interface ContainerStatusInfo {
  status: ContainerStatusName;
  pid?: number;
  exitCode?: number;
  oomKilled?: boolean;
}

export interface StartHooks {
  /**
   * Runs once the output FIFOs exist and the previous exit file is gone, just
   * before the container is spawned: the log reader opens the FIFOs here, so
   * not a line of a container that exits at once is lost.
   */
  beforeSpawn?: () => Promise<void>;
  /**
   * Takes the start's read-write descriptors of the two FIFOs (stdout,
   * stderr) once the container is spawned, instead of their being closed:
   * whoever holds them keeps the pipes (and what is written into them) alive
   * after the container ends, until a log reader opens them.
   */
  keepOutput?: (fds: number[], paths: string[]) => void;
}

export interface ExecOptions {
  user?: string;
  /** KEY=value pairs added over the container's environment. */
  env?: Record<string, string>;
  cwd?: string;
  tty?: boolean;
  timeoutMs?: number;
  /** Every capability, whatever the container has (a `privileged` lifecycle hook). */
  privileged?: boolean;
}

const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export function containerDir(stateDir: string, project: string, id: string): string {
  return join(stateDir, "projects", project, "containers", id);
}

export class ContainerRuntime {
  constructor(private readonly deps: RuntimeDeps) {}

  private cgroup(h: { project: string; id: string }): ContainerCgroup {
    return new ContainerCgroup({ fs: this.deps.cgroupFs, signal: this.deps.signal, sleep: this.deps.sleep }, this.deps.cgroupRoot, h.project, h.id, this.deps.cgroupVersion);
  }

  /** Makes the container without starting it. Undoes its own steps when one fails. */
  async create(cfg: CreateConfig): Promise<ContainerHandle> {
    if (!ID_PATTERN.test(cfg.id)) throw new InvalidInputError(`container id ${JSON.stringify(cfg.id)} is not valid`, { hint: "use letters, digits, '_', '.', '-'" });
    const dir = containerDir(this.deps.stateDir, cfg.project, cfg.id);
    if (existsSync(join(dir, "handle.json"))) throw new ConflictError(`container ${cfg.id} of project ${cfg.project} already exists`, { hint: "remove it first" });
    const rootfs = join(dir, "rootfs");
    for (const d of ["upper", "work", "rootfs"]) mkdirSync(join(dir, d), { recursive: true });
    const undo: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
    try {
      const { service, image } = cfg;
      const plan = planVolumes({
        service,
        volumeNames: cfg.volumeNames ?? {},
        stateDir: this.deps.stateDir,
        containerDir: dir,
        imageVolumes: Object.keys(image.Volumes ?? {}),
        volumesFrom: (cfg.volumesFrom ?? []).map((f) => ({ mounts: f.handle.volumeMounts, read_only: f.read_only })),
      });
      // A container removed when it exits lets the OCI runtime mount its overlay (see runtimeMountedFiles).
      const files = cfg.ephemeral ? runtimeMountedFiles(cfg.lowerdirs, plan.volumeDirs) : undefined;
      let rootMount: OciMount | undefined;
      if (files) {
        const m = overlayMount(cfg.lowerdirs, join(dir, "upper"), join(dir, "work"), rootfs, { volatile: this.deps.overlayVolatile === true });
        rootMount = { destination: "/", type: m.type, source: m.source, options: m.options };
      } else {
        // The output FIFOs are made with the mount (the first start needs them, before the supervisor watches).
        const fifos = [join(dir, "stdout.fifo"), join(dir, "stderr.fifo")];
        const overlay = (volatile: boolean) => overlayMount(cfg.lowerdirs, join(dir, "upper"), join(dir, "work"), rootfs, { volatile });
        try {
          await this.deps.mounter.mount(overlay(cfg.ephemeral === true), fifos);
        } catch (e) {
          if (!cfg.ephemeral) throw e;
          // A kernel before 5.10 knows no `volatile`: the plain overlay then (its FIFOs may be made already).
          for (const f of fifos) rmSync(f, { force: true });
          await this.deps.mounter.mount(overlay(false), fifos);
        }
        undo.push(() => this.deps.mounter.unmount(rootfs));
      }
      const user = resolveUser(service.user ?? image.User, files ?? userFiles(rootfs), service.group_add, `services.${service.name}.user`);
      for (const d of plan.createDirs) if (!existsSync(d)) mkdirSync(d, { recursive: true }); // a bind of an existing file is fine
      for (const v of plan.volumeDirs) await this.prepareVolumeDir(v.dir, join(rootfs, v.target), v.copyFromImage);
      const cgroup = this.cgroup(cfg);
      undo.push(() => cgroup.remove());
      const limits = serviceLimits(service);
      cgroup.create(limits);
      const hostname = cfg.hostname ?? cfg.id.slice(0, 12);
      // Like Docker, every container gets its own /etc/hostname, and a minimal /etc/hosts when the network layer gives none.
      const etcFiles = { ...cfg.etcFiles };
      if (!etcFiles.hostname) {
        etcFiles.hostname = join(dir, "hostname");
        writeFileAtomic(etcFiles.hostname, `${hostname}\n`, 0o644, FRESH);
      }
      if (!etcFiles.hosts) {
        etcFiles.hosts = join(dir, "hosts");
        writeFileAtomic(etcFiles.hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`, 0o644, FRESH);
      }
      const { spec } = buildSpec({
        service,
        image,
        user,
        rootfs,
        network: cfg.network,
        hostname,
        etcFiles,
        volumeMounts: plan.mounts,
        ...(rootMount ? { rootMount } : {}),
        hostRlimits: this.deps.hostRlimits,
        ...(this.deps.hostCapabilities ? { hostCapabilities: this.deps.hostCapabilities } : {}),
        cgroupsPath: `/${cgroup.relative}`,
        devices: service.devices.map((d) => resolveDevice(service.name, d, this.deps.statDevice(d.source))),
        ...(this.deps.initBinary ? { initBinary: this.deps.initBinary } : {}),
        arch: this.deps.arch,
        ...(cfg.annotations ? { annotations: cfg.annotations } : {}),
      });
      writeJsonAtomic(join(dir, "config.json"), spec, FRESH);
      const handle: ContainerHandle = {
        id: cfg.id,
        project: cfg.project,
        service: service.name,
        dir,
        rootfs,
        cgroup: cgroup.relative,
        stopSignal: service.stop_signal ?? image.StopSignal ?? "SIGTERM",
        stdoutFifo: join(dir, "stdout.fifo"),
        stderrFifo: join(dir, "stderr.fifo"),
        exitFile: join(dir, "exit"),
        pidFile: join(dir, "pid"),
        volumeMounts: plan.mounts.filter((m) => m.type === "bind"),
        limits,
        command: containerArgs(service, image),
        ...(rootMount ? { layers: cfg.lowerdirs } : {}),
      };
      writeJsonAtomic(join(dir, "handle.json"), handle, EPHEMERAL);
      return handle;
    } catch (e) {
      for (const step of undo.reverse()) {
        try {
          await step();
        } catch {
          // The original error is the one to report.
        }
      }
      throw e;
    }
  }

  /**
   * A new volume dir gets the image's content at the target (Docker's copy-up),
   * and the owner and mode of the image's folder even when it is empty (an
   * image whose USER must write there, e.g. postgres' data dir); an existing
   * one is left alone.
   */
  private async prepareVolumeDir(dir: string, imagePath: string, copy: boolean): Promise<void> {
    const fresh = !existsSync(dir);
    mkdirSync(dir, { recursive: true });
    if (!fresh || !copy || !existsSync(imagePath)) return;
    const r = await this.deps.runner.run(["cp", "-a", `${imagePath}/.`, `${dir}/`]);
    if (r.exitCode !== 0) throw new SystemError(`cannot copy the image's ${imagePath} into volume ${dir}: ${r.stderr.trim()}`, { hint: "check free space under STACK_STATE_DIR" });
  }

  /** Re-adopts a container from its saved handle. */
  load(project: string, id: string): ContainerHandle {
    const file = join(containerDir(this.deps.stateDir, project, id), "handle.json");
    try {
      return JSON.parse(readFileSync(file, "utf8")) as ContainerHandle;
    } catch (e) {
      throw new NotFoundError(`no container ${JSON.stringify(id)} in project ${JSON.stringify(project)} (${file})`, { cause: e, hint: "`stack ps -a` lists the project's containers" });
    }
  }

  /**
   * Starts the detached monitor; resolves once the runtime reports the
   * container's pid (or it already exited). An exited container starts again
   * (restart policies, `stack start`): its old runtime state is deleted and
   * its cgroup set up anew; rootfs, volumes and network namespace stay.
   */
  async start(h: ContainerHandle, timeoutMs = 10_000, hooks: StartHooks = {}): Promise<{ pid?: number }> {
    // The pid file is runc's first trace of a start; `runc run` refuses a duplicate id anyway.
    if (existsSync(h.pidFile)) {
      if (!existsSync(h.exitFile)) throw new ConflictError(`container ${h.id} is already running`, { hint: "stop it first" });
      await this.deps.runtime.deleteStopped(h.id);
      rmSync(h.pidFile, { force: true });
      this.cgroup(h).create(h.limits ?? {});
    }
    rmSync(h.exitFile, { force: true });
    const fifos = [h.stdoutFifo, h.stderrFifo].filter((f) => !existsSync(f));
    if (fifos.length > 0) await this.makeFifos(fifos);
    await hooks.beforeSpawn?.();
    const runArgv = this.deps.runtime.runArgv(h.id, h.dir, h.pidFile);
    if (this.deps.spawnMonitor) {
      // Forked by the perl helper, which opens the FIFOs itself: this process forks nothing (a fork of Node costs
      // 6–13 ms here, and a new perl's start as much again). Held here only for keepOutput.
      const held = hooks.keepOutput ? [openSync(h.stdoutFifo, constants.O_RDWR), openSync(h.stderrFifo, constants.O_RDWR)] : [];
      try {
        await this.deps.spawnMonitor(h.stdoutFifo, h.stderrFifo, h.exitFile, this.deps.pipeBufferBytes ?? 0, runArgv);
      } catch (e) {
        for (const fd of held) closeSync(fd);
        throw new SystemError(`cannot start the monitor of container ${h.id}: ${(e as Error).message}`, { cause: e, hint: "perl (Debian's perl-base) must run; STACK_DEBUG=1 shows the trace" });
      }
      if (held.length > 0) hooks.keepOutput!(held, [h.stdoutFifo, h.stderrFifo]);
    } else {
      // Blocking descriptors: the container's writes wait when the pipe is full rather than fail with EAGAIN.
      const out = openSync(h.stdoutFifo, constants.O_RDWR);
      const err = openSync(h.stderrFifo, constants.O_RDWR);
      let kept = false;
      try {
        this.deps.runner.spawnDetached(monitorArgv(this.deps.perl, h.exitFile, this.deps.pipeBufferBytes, runArgv), { stdout: out, stderr: err });
        if (hooks.keepOutput) {
          hooks.keepOutput([out, err], [h.stdoutFifo, h.stderrFifo]);
          kept = true;
        }
      } finally {
        if (!kept) {
          closeSync(out);
          closeSync(err);
        }
      }
    }
    // runc writes the pid file (and the monitor the exit file) by a rename in the container's folder:
    // watched (inotify), this waits without waking every few ms while runc, on the other core, needs the CPU.
    const deadline = Date.now() + timeoutMs;
    const folder = watchFolder(h.dir);
    try {
      for (;;) {
        if (existsSync(h.pidFile)) {
          const pid = Number(readFileSync(h.pidFile, "utf8").trim());
          if (pid > 0) return { pid };
        }
        if (existsSync(h.exitFile)) {
          if (!existsSync(h.pidFile)) throw new SystemError(`container ${h.id} failed to start (runtime exit ${readExit(h.exitFile)})`, { hint: `its error is on ${h.stderrFifo}; the supervisor's log shows it` });
          return {};
        }
        if (Date.now() > deadline) throw new SystemError(`container ${h.id} did not start within ${timeoutMs} ms`, { hint: "check the runtime's messages in the container's log" });
        await (folder ? folder.change(50) : this.deps.sleep(2));
      }
    } finally {
      folder?.close();
    }
  }

  /** A command about to create or remove containers calls this first: the helper starts while it does other work. */
  warm(): void {
    this.deps.warm?.();
  }

  private async makeFifos(fifos: string[]): Promise<void> {
    if (this.deps.mkfifo) {
      try {
        await this.deps.mkfifo(fifos, 0o600);
      } catch (e) {
        throw new SystemError(`cannot make ${fifos.join(" and ")}: ${(e as Error).message}`, { cause: e, hint: "check STACK_STATE_DIR" });
      }
      return;
    }
    const r = await this.deps.runner.run(["mkfifo", "-m", "600", ...fifos]);
    if (r.exitCode !== 0) throw new SystemError(`cannot make ${fifos.join(" and ")}: ${r.stderr.trim()}`, { hint: "check STACK_STATE_DIR" });
  }

  async status(h: ContainerHandle): Promise<ContainerStatusInfo> {
    if (this.deps.alive) return statusFromFiles(h, this.cgroup(h), this.deps.alive, this.deps.sleep);
    if (existsSync(h.exitFile)) {
      const exitCode = readExit(h.exitFile);
      return { status: "exited", exitCode, oomKilled: exitCode === 137 && this.cgroup(h).oomKills() > 0 };
    }
    const s = await this.deps.runtime.state(h.id);
    if (!s) return existsSync(h.pidFile) ? { status: "exited" } : { status: "created" };
    if (s.status === "paused") return { status: "paused", pid: s.pid };
    if (s.status === "running") return { status: "running", pid: s.pid };
    if (s.status === "stopped") return { status: "exited" }; // monitor about to write the exit file
    return { status: "created" };
  }

  /**
   * The path of a running container's namespace, for another container that
   * shares it (network_mode: service:X / container:X → { mode: "path", path }).
   */
  namespacePath(h: ContainerHandle, kind: "net" | "ipc" | "pid" = "net"): string {
    const pid = existsSync(h.pidFile) && !existsSync(h.exitFile) ? Number(readFileSync(h.pidFile, "utf8").trim()) : 0;
    if (!(pid > 0)) throw new ConflictError(`container ${h.id} is not running, so its ${kind} namespace cannot be shared`, { hint: "start it first (depends_on orders this)" });
    return `/proc/${pid}/ns/${kind}`;
  }

  /** Resolves with the exit status once the monitor recorded it. */
  async wait(h: ContainerHandle, timeoutMs = Infinity): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(h.exitFile)) {
      if (Date.now() > deadline) throw new SystemError(`container ${h.id} still runs after ${timeoutMs} ms`, { hint: "stop it" });
      await this.deps.sleep(5);
    }
    return readExit(h.exitFile);
  }

  /**
   * After its cgroup was killed: the exit status once recorded; a container
   * run in the foreground, whose command may have been killed too, has no
   * monitor to record it, so its process ending is enough.
   */
  private async waitAfterKill(h: ContainerHandle): Promise<void> {
    if (existsSync(join(h.dir, FOREGROUND_MARK))) await this.waitForProcessEnd(h, 10_000);
    else await this.wait(h, 10_000);
  }

  /** Resolves once the container's init process (its pid file's) is gone, or the exit status is recorded. */
  private async waitForProcessEnd(h: ContainerHandle, timeoutMs: number): Promise<void> {
    const pid = readPidFile(h.pidFile);
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(h.exitFile) && pid !== undefined && (this.deps.alive ? this.deps.alive(pid) : (await this.status(h)).status === "running")) {
      if (Date.now() > deadline) throw new SystemError(`container ${h.id} still runs after ${timeoutMs} ms`, { hint: "stop it" });
      await this.deps.sleep(5);
    }
  }

  /** stop_signal to PID 1, then after graceMs SIGKILL to every process of the cgroup. */
  async stop(h: ContainerHandle, options: { signal?: string; graceMs?: number } = {}): Promise<void> {
    const st = await this.status(h);
    if (st.status === "exited" || st.status === "created") return;
    if (st.status === "paused") await this.cgroup(h).thaw();
    // The stop signal goes to the container's PID 1 straight away when its host pid is known (what
    // `runc kill` does, without a process start per container: a `down` of 20 spent 20 of them).
    const signal = signalName(options.signal ?? h.stopSignal);
    if (st.pid !== undefined && signal) this.deps.signal(st.pid, signal);
    else await this.deps.runtime.kill(h.id, options.signal ?? h.stopSignal);
    const deadline = Date.now() + (options.graceMs ?? 10_000);
    while (Date.now() < deadline) {
      if (existsSync(h.exitFile)) return;
      await this.deps.sleep(10);
    }
    await this.cgroup(h).killAll();
    await this.waitAfterKill(h);
  }

  async kill(h: ContainerHandle, signal = "SIGKILL"): Promise<void> {
    await this.deps.runtime.kill(h.id, signal);
  }

  private execProcess(h: ContainerHandle, argv: string[], options: ExecOptions): OciProcess {
    const spec = JSON.parse(readFileSync(join(h.dir, "config.json"), "utf8")) as OciSpec;
    const p: OciProcess = { ...spec.process, args: argv, terminal: options.tty ?? false };
    if (options.user !== undefined) {
      const u = resolveUser(options.user, (h.layers && runtimeMountedFiles(h.layers, [])) || userFiles(h.rootfs), [], "exec --user");
      p.user = { uid: u.uid, gid: u.gid, ...(u.additionalGids.length > 0 ? { additionalGids: u.additionalGids } : {}) };
      if (u.uid !== 0) p.capabilities = { ...p.capabilities, effective: [], permitted: [] };
      const homeless = p.env.filter((e) => !e.startsWith("HOME="));
      p.env = containerEnv({ imageEnv: homeless, serviceEnv: {}, hostname: spec.hostname ?? h.id, home: u.home });
    }
    if (options.env) p.env = containerEnv({ imageEnv: p.env, serviceEnv: options.env, hostname: spec.hostname ?? h.id, home: "/" });
    if (options.cwd !== undefined) p.cwd = options.cwd;
    if (options.privileged) {
      const all = everyCapability(this.deps.hostCapabilities);
      p.capabilities = { bounding: all, effective: all, permitted: all };
    }
    return p;
  }

  private writeProcessFile(h: ContainerHandle, p: OciProcess): string {
    const file = join(h.dir, `exec-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.json`);
    writeFileAtomic(file, JSON.stringify(p), 0o644, EPHEMERAL);
    return file;
  }

  /** Runs a command in the running container, collecting its output (healthchecks, `stack exec` without a terminal). */
  async exec(h: ContainerHandle, argv: string[], options: ExecOptions = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const file = this.writeProcessFile(h, this.execProcess(h, argv, { ...options, tty: false }));
    try {
      const r = await this.deps.runner.run(this.deps.runtime.execArgv(h.id, file, false), options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
      return r;
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** Runs a command with the caller's stdio (interactive `stack exec -it`); resolves with its exit code. */
  async execInteractive(h: ContainerHandle, argv: string[], options: ExecOptions = {}): Promise<number> {
    const file = this.writeProcessFile(h, this.execProcess(h, argv, options));
    try {
      return await this.deps.runner.runInherit(this.deps.runtime.execArgv(h.id, file, options.tty ?? false));
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** Starts a command in the running container and returns at once (`stack exec -d`); its output goes nowhere. */
  execDetached(h: ContainerHandle, argv: string[], options: ExecOptions = {}): number {
    // The process file stays until the container is removed: runc reads it after we return.
    const file = this.writeProcessFile(h, this.execProcess(h, argv, { ...options, tty: false }));
    const devnull = openSync("/dev/null", constants.O_WRONLY);
    try {
      return this.deps.runner.spawnDetached(this.deps.runtime.execArgv(h.id, file, false), { stdout: devnull, stderr: devnull });
    } finally {
      closeSync(devnull);
    }
  }

  /**
   * Runs a created container in the foreground with the caller's stdio
   * (`stack run` attached, a terminal when asked) and records its exit status
   * in the exit file, as the monitor would.
   */
  /**
   * Runs the container attached: `run` is how the runtime's `run` command is
   * started (default: with the caller's stdin/stdout/stderr; the supervisor
   * serving a warm `stack run` pipes them to its client instead); it is given
   * the way to kill the container's init, for a second Ctrl-C.
   */
  async runForeground(h: ContainerHandle, options: { tty: boolean; keep?: boolean; run?: (argv: string[], killInit: () => void) => Promise<number> }): Promise<number> {
    if (existsSync(h.pidFile)) throw new ConflictError(`container ${h.id} was already started`, { hint: "create a new one" });
    if (options.tty) {
      const specFile = join(h.dir, "config.json");
      const spec = JSON.parse(readFileSync(specFile, "utf8")) as OciSpec;
      spec.process.terminal = true;
      writeJsonAtomic(specFile, spec, EPHEMERAL);
    }
    writeFileAtomic(join(h.dir, FOREGROUND_MARK), "", 0o644, EPHEMERAL);
    // keep: false (`run --rm`): the runtime deletes its own state as the container ends, so the removal spawns no `delete`.
    const argv = this.deps.runtime.runArgv(h.id, h.dir, h.pidFile, options.keep ?? true);
    // Without a terminal, a signal to stack reaches the container (through the runtime's `run`, which passes it on),
    // and a second SIGINT or SIGTERM kills its init, as for a warm run (supervisor/run-host.ts); with one, Ctrl-C is a keystroke.
    let ended = false;
    /** SIGKILL to the container's init (and with it its PID namespace); before its pid is known, shortly again. */
    const killInit = (): void => {
      if (ended) return;
      const pid = readPidFile(h.pidFile);
      if (pid !== undefined) this.deps.signal(pid, "SIGKILL");
      else setTimeout(killInit, 20).unref();
    };
    let code: number;
    try {
      code = await (options.run ? options.run(argv, killInit) : this.deps.runner.runInherit(argv, options.tty ? {} : { forwardSignals: true, onRepeat: killInit }));
    } finally {
      ended = true;
    }
    writeFileAtomic(h.exitFile, `${code}\n`, 0o644, EPHEMERAL);
    return code;
  }

  async pause(h: ContainerHandle): Promise<void> {
    await this.cgroup(h).freeze();
  }

  async unpause(h: ContainerHandle): Promise<void> {
    await this.cgroup(h).thaw();
  }

  /** The container's processes (`stack top`), from its cgroup and /proc; ones that end meanwhile are left out. */
  processes(h: ContainerHandle): Array<{ pid: number; ppid: number; uid: number; command: string }> {
    return this.cgroup(h).pids().sort((a, b) => a - b).flatMap((pid) => {
      try {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
        return [{ pid, ppid: Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? -1), uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1), command }];
      } catch {
        return [];
      }
    });
  }

  stats(h: ContainerHandle): CgroupStats {
    return this.cgroup(h).stats();
  }

  /** Kills what runs, deletes the runtime's state, unmounts, removes the cgroup and the container dir (anonymous volumes with it). Named volumes stay. */
  async remove(h: ContainerHandle): Promise<void> {
    const cgroup = this.cgroup(h);
    if (existsSync(h.pidFile) && !existsSync(h.exitFile)) {
      await cgroup.killAll();
      await this.waitAfterKill(h);
    }
    if (this.deps.runtime.hasState(h.id)) {
      // The monitor records the exit once `run` returned: a stopped container's state goes without a process.
      if (existsSync(h.exitFile)) await this.deps.runtime.deleteStopped(h.id);
      else await this.deps.runtime.delete(h.id);
    }
    // An overlay the OCI runtime mounted (h.layers) went with the container's mount namespace: nothing to read the host's mount table for.
    if (!h.layers) for (const m of this.deps.mounter.mountsUnder(h.dir)) await this.deps.mounter.unmount(m);
    cgroup.remove();
    rmSync(h.dir, { recursive: true, force: true });
  }

  /**
   * After a crash: removes every container of the project(s) whose id is not
   * in `keep` — the runtime's state, processes, mounts, cgroups and dirs.
   * Returns the ids it removed.
   */
  async cleanupLeftovers(project?: string, keep: ReadonlySet<string> = new Set()): Promise<string[]> {
    const projectsDir = join(this.deps.stateDir, "projects");
    const projects = project !== undefined ? [project] : safeList(projectsDir);
    const removed = new Set<string>();
    const known = new Set<string>();
    for (const p of projects) {
      const dirs = safeList(join(projectsDir, p, "containers"));
      for (const id of dirs) known.add(id);
      const version = this.cgroup({ project: p, id: "x" }).version;
      const ids = new Set([...dirs, ...listProjectCgroups(this.deps.cgroupFs, this.deps.cgroupRoot, version, p)]);
      for (const id of [...ids].sort()) {
        if (keep.has(id)) continue;
        const dir = containerDir(this.deps.stateDir, p, id);
        const cg = this.cgroup({ project: p, id });
        await cg.killAll();
        // Let the monitor record the exit and go, so no process outlives the clean-up.
        const [pidFile, exitFile] = [join(dir, "pid"), join(dir, "exit")];
        for (let i = 0; i < 500 && existsSync(pidFile) && !existsSync(exitFile); i++) await this.deps.sleep(10);
        await this.deps.runtime.delete(id);
        for (const m of this.deps.mounter.mountsUnder(dir)) await this.deps.mounter.unmount(m);
        removeCgroupTree(this.deps.cgroupFs, this.deps.cgroupRoot, version, cg.relative);
        rmSync(dir, { recursive: true, force: true });
        removed.add(id);
      }
    }
    // Runtime state whose bundle is gone (a crash between `runc run` and our record):
    // only a sweep of every project may delete it, since the runtime cannot tell
    // which project it was (so a project's sweep, at every `up`, spawns no `runc list`).
    if (project !== undefined) return [...removed].sort();
    for (const s of await this.deps.runtime.list()) {
      if (keep.has(s.id) || removed.has(s.id) || known.has(s.id)) continue;
      await this.deps.runtime.delete(s.id);
      removed.add(s.id);
    }
    return [...removed].sort();
  }
}

/**
 * The image's /etc/passwd and /etc/group read from its layers, for a
 * container whose overlay the OCI runtime mounts itself (a spec mount at
 * "/" over an empty root folder): nothing is mounted on the host then, so
 * there is no mount to make through the perl helper (a process, and a wait
 * for it) and none to undo at removal — and none left behind if the command
 * dies. undefined when create needs the mounted rootfs after all: a file
 * the layers cannot tell without the mount (image-files.ts), or a new volume
 * to fill with the image's content.
 */
function runtimeMountedFiles(lowerdirs: string[], volumeDirs: ReadonlyArray<{ dir: string; copyFromImage: boolean }>): UserFiles | undefined {
  if (volumeDirs.some((v) => v.copyFromImage && !existsSync(v.dir))) return undefined;
  const [passwd, group] = ["etc/passwd", "etc/group"].map((p) => readLayeredFile(lowerdirs, p));
  if (passwd!.kind === "unknown" || group!.kind === "unknown") return undefined;
  return { passwd: passwd!.kind === "file" ? passwd!.text : "", group: group!.kind === "file" ? group!.text : "" };
}

/** The image's /etc/passwd and /etc/group as seen in the mounted rootfs ("" when absent). */
function userFiles(rootfs: string): UserFiles {
  const read = (p: string) => {
    try {
      return readFileSync(join(rootfs, p), "utf8");
    } catch {
      return "";
    }
  };
  return { passwd: read("etc/passwd"), group: read("etc/group") };
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** A signal as Node names it ("SIGTERM" for "TERM", "15" or "SIGTERM"), or undefined when Node knows none such. */
export function signalName(signal: string): NodeJS.Signals | undefined {
  const known = osConstants.signals as Record<string, number>;
  if (/^\d+$/.test(signal)) return Object.keys(known).find((k) => known[k] === Number(signal)) as NodeJS.Signals | undefined;
  const name = signal.toUpperCase().startsWith("SIG") ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  return name in known ? (name as NodeJS.Signals) : undefined;
}

const F_SETPIPE_SZ = 1031;

/**
 * A watch (inotify) of a folder: change(ms) resolves at the next entry made,
 * renamed or changed in it, or after `ms` at the latest (a missed event costs
 * a poll, not a hang). Undefined where the folder cannot be watched (out of
 * inotify watches): the caller polls then.
 */
function watchFolder(dir: string): { change(ms: number): Promise<void>; close(): void } | undefined {
  let wake: (() => void) | undefined;
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, { persistent: false }, () => wake?.());
  } catch {
    return undefined;
  }
  watcher.on("error", () => wake?.());
  return {
    change: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => done(), ms);
        const done = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
        wake = done;
      }),
    close: () => watcher.close(),
  };
}

/**
 * The detached monitor of one container: raises the FIFOs' pipe buffer
 * (F_SETPIPE_SZ; Node has no fcntl) so a container can write that much while
 * no log reader is attached, runs the OCI runtime in the foreground, and
 * records its exit status (128 + signal for a killed runtime, as a shell
 * would) in `exitFile`, atomically. With perl (Essential on Debian) it is one
 * process; without it a shell does the same minus the pipe buffer.
 */
export function monitorArgv(perl: string | undefined, exitFile: string, pipeBufferBytes: number | undefined, runtimeArgv: string[]): string[] {
  const size = String(pipeBufferBytes ?? 0);
  if (perl) {
    const script = [
      "my ($exit_file, $size, @cmd) = @ARGV;",
      `if ($size > 0) { fcntl(STDOUT, ${F_SETPIPE_SZ}, $size + 0); fcntl(STDERR, ${F_SETPIPE_SZ}, $size + 0); }`,
      "my $code = 127; my $pid = fork;",
      "if (defined $pid && $pid == 0) { exec { $cmd[0] } @cmd; exit 127; }",
      "if (defined $pid) { waitpid($pid, 0); $code = ($? & 127) ? 128 + ($? & 127) : ($? >> 8); }",
      'open(my $f, ">", "$exit_file.tmp") or exit 1; print $f "$code\n"; close($f) or exit 1; rename("$exit_file.tmp", $exit_file) or exit 1;',
    ].join(" ");
    return [perl, "-e", script, exitFile, size, ...runtimeArgv];
  }
  return ["sh", "-c", 'exit_file=$1; size=$2; shift 2; "$@"; echo $? > "$exit_file.tmp" && mv "$exit_file.tmp" "$exit_file"', "stack-monitor", exitFile, size, ...runtimeArgv];
}
