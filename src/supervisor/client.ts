// The CLI's side of the supervisor: ensureSupervisor connects to the
// project's supervisor, starting the detached daemon when none answers (a
// lock file keeps two CLIs from starting two), and SupervisorClient wraps the
// protocol in typed calls and async iterables.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { ConflictError, SystemError } from "../errors.js";
import { handoffFile, socketAnswers, supervisorAnswers, supervisorPaths, type SupervisorPaths } from "./paths.js";
import { writeJsonAtomic } from "../fs/atomic-write.js";
import type { LogLine } from "./log-record.js";
import { processAlive } from "../fs/process-alive.js";
import {
  createFrameDecoder,
  encodeFrame,
  PROTOCOL_VERSION,
  toStackError,
  type ContainerStatus,
  type FileWatchSpec,
  type FileWatchStatus,
  type HelloResult,
  type LogsRequestArgs,
  type Request,
  type ResponseFrame,
  type SupervisedContainer,
  type SupervisorEvent,
} from "./protocol.js";

export interface EnsureOptions {
  /** The daemon's entry file; default dist/supervisor/main.js next to this module. */
  entry?: string;
  /** --runtime of the daemon. */
  runtime?: string;
  idleMs?: number;
  /** How long to wait for a starting daemon's socket. */
  startTimeoutMs?: number;
  /** For claimSupervisorStart: what starts the daemon instead of this process (see DaemonLauncher). */
  launcher?: DaemonLauncher;
}

/**
 * What can start the daemon for a SupervisorLaunch and hold what it is to
 * inherit until then — the perl helper (src/fs/perl-helper.ts): its fork
 * costs ~1 ms, where a fork of this Node process blocks it 8–12 ms on the
 * development VM, at the very end of an `up -d`.
 */
export interface DaemonLauncher {
  bindUdp(address: string, port: number): Promise<number>;
  closeFds(fds: number[]): Promise<void>;
  daemon(log: string, fifos: string[], fds: number[], argv: string[]): Promise<number>;
}

export async function ensureSupervisor(project: string, stateDir: string, runDir: string, options: EnsureOptions = {}): Promise<SupervisorClient> {
  const paths = supervisorPaths(runDir, project);
  if (await socketAnswers(paths.socket)) return SupervisorClient.connect(paths.socket);
  mkdirSync(paths.dir, { recursive: true });
  const release = await takeLock(paths.lock, options.startTimeoutMs ?? 10_000);
  try {
    if (await socketAnswers(paths.socket)) return await SupervisorClient.connect(paths.socket);
    spawnDaemon(paths, daemonArgs(project, stateDir, runDir, options), []);
    return await awaitSocket(paths, project, options.startTimeoutMs ?? 10_000);
  } finally {
    release();
  }
}

/**
 * For a command that starts containers and need not wait for the supervisor
 * (`up -d`): the client of the supervisor that runs, or else the start lock,
 * held by the returned SupervisorLaunch until the daemon it spawns listens.
 * Meanwhile no other command starts a supervisor, and one that needs it
 * waits (supervisorAnswers in paths.ts).
 */
export async function claimSupervisorStart(project: string, stateDir: string, runDir: string, options: EnsureOptions = {}): Promise<SupervisorClient | SupervisorLaunch> {
  const paths = supervisorPaths(runDir, project);
  if (await supervisorAnswers(paths, options.startTimeoutMs ?? 10_000)) return SupervisorClient.connect(paths.socket);
  mkdirSync(paths.dir, { recursive: true });
  const release = await takeLock(paths.lock, options.startTimeoutMs ?? 10_000);
  try {
    if (await socketAnswers(paths.socket)) {
      release();
      return await SupervisorClient.connect(paths.socket);
    }
  } catch (e) {
    release();
    throw e;
  }
  return new SupervisorLaunch(project, paths, handoffFile(stateDir, project), daemonArgs(project, stateDir, runDir, options), release, options.startTimeoutMs ?? 10_000, options.launcher);
}

/** A descriptor the daemon inherits: a DNS socket bound by the launching command (so no query is refused before the daemon boots). */
export type InheritedDnsSocket = import("../network/dns-server.js").DnsListenSocket;

/**
 * The deferred start of a project's supervisor. Containers started meanwhile
 * are handed over in the handoff file (written before each spawn, so a
 * command killed halfway loses none of them: the next supervisor reads it),
 * and their output FIFOs are held open read-write by this process until the
 * daemon inherits them: the pipes, and what a container that ends at once
 * wrote into them, outlive the container until the daemon reads them.
 */
export class SupervisorLaunch {
  private readonly handed: { spec: SupervisedContainer; startedAt: number }[] = [];
  private readonly held: number[] = [];
  /** The FIFOs of `held`, for a launcher to open (it cannot take this process's descriptors). */
  private readonly heldPaths: string[] = [];
  private readonly dns: InheritedDnsSocket[] = [];
  private readonly closeDns: (() => void)[] = [];
  private launched = false;

  constructor(
    readonly project: string,
    private readonly paths: SupervisorPaths,
    private readonly handoff: string,
    private readonly args: string[],
    private readonly release: () => void,
    private readonly startTimeoutMs: number,
    /** When given, it binds the DNS sockets and starts the daemon (see DaemonLauncher). */
    private readonly launcher?: DaemonLauncher,
  ) {}

  get pending(): boolean {
    return !this.launched;
  }

  /** Records a container about to be spawned (before its spawn). */
  handOver(spec: SupervisedContainer, startedAt: number): void {
    this.handed.push({ spec, startedAt });
    writeJsonAtomic(this.handoff, { version: 1, containers: this.handed } satisfies Handoff, { durable: false });
  }

  /** Keeps descriptors (`fds`: the FIFOs at `paths` of a spawned container) open until the daemon has them; closes them at once once it runs. */
  hold(fds: number[], paths: string[]): void {
    if (this.launched) for (const fd of fds) closeSync(fd);
    else {
      this.held.push(...fds);
      this.heldPaths.push(...paths);
    }
  }

  /** Bound DNS sockets for the daemon (`close` ends them here once it has them). */
  holdDns(reserved: { sockets: InheritedDnsSocket[]; close(): void }): void {
    if (this.launched) return reserved.close();
    this.dns.push(...reserved.sockets);
    this.closeDns.push(reserved.close);
  }

  /**
   * Binds the daemon's DNS sockets now (a container's query waits in their
   * queue until it reads them, instead of being refused): in the launcher
   * when there is one, else here with `bindHere`.
   */
  async reserveDns(endpoints: { address: string; port: number }[], bindHere: (endpoints: { address: string; port: number }[]) => Promise<{ sockets: InheritedDnsSocket[]; close(): void }>): Promise<void> {
    const launcher = this.launcher;
    if (!launcher) return this.holdDns(await bindHere(endpoints));
    const sockets: InheritedDnsSocket[] = [];
    const close = () => void launcher.closeFds(sockets.map((s) => s.fd)).catch(() => undefined);
    try {
      for (const ep of endpoints) sockets.push({ address: ep.address, port: ep.port, protocol: "udp", fd: await launcher.bindUdp(ep.address, ep.port) });
    } catch (e) {
      close();
      throw new SystemError(`embedded DNS: cannot bind ${endpoints.map((ep) => `${ep.address}:${ep.port}`).join(", ")}/udp: ${(e as Error).message}`, { hint: "is another DNS server bound to the gateway address?", cause: e });
    }
    this.holdDns({ sockets, close });
  }

  /**
   * Spawns the daemon without waiting for it, and gives it the start lock:
   * the lock names the daemon, which removes it once it listens; a daemon
   * that dies first leaves a stale lock, which the next command takes over
   * and starts a supervisor of its own (it reads the same handoff file).
   */
  launch(): Promise<void> {
    if (this.launched) return Promise.resolve();
    this.launched = true;
    if (this.launcher) return this.launchThrough(this.launcher);
    try {
      const inherited = [...this.dns.map((d) => d.fd), ...this.held];
      const dnsArg = this.dns.map((d, i) => ({ address: d.address, port: d.port, protocol: d.protocol, fd: 3 + i }));
      const pid = spawnDaemon(this.paths, dnsArg.length > 0 ? [...this.args, "--inherited-dns", JSON.stringify(dnsArg)] : this.args, inherited);
      if (pid) writeFileSync(this.paths.lock, `${pid}\n`);
      else this.release();
    } catch (e) {
      this.release();
      throw e;
    } finally {
      for (const fd of this.held) closeSync(fd);
      this.held.length = 0;
      for (const close of this.closeDns.splice(0)) close();
    }
    return Promise.resolve();
  }

  /**
   * launch() through the launcher, which opens the held FIFOs itself before
   * this process closes its own, and hands over the sockets it holds. A
   * daemon that could not be forked fails the launch, as a failed spawn
   * does, with the lock released (the next command starts one, from the
   * same handoff file) and its sockets closed.
   */
  private async launchThrough(launcher: DaemonLauncher): Promise<void> {
    const dnsArg = this.dns.map((d) => ({ address: d.address, port: d.port, protocol: d.protocol, fd: d.fd }));
    const closeDns = this.closeDns.splice(0);
    try {
      const pid = await launcher.daemon(this.paths.log, this.heldPaths, dnsArg.map((d) => d.fd), [process.execPath, ...(dnsArg.length > 0 ? [...this.args, "--inherited-dns", JSON.stringify(dnsArg)] : this.args)]);
      writeFileSync(this.paths.lock, `${pid}\n`);
    } catch (e) {
      for (const close of closeDns) close();
      this.release();
      throw new SystemError(`cannot start the supervisor of project ${this.project}: ${(e as Error).message}`, { hint: `its log is ${this.paths.log}; the next command starts it`, cause: e });
    } finally {
      for (const fd of this.held) closeSync(fd);
      this.held.length = 0;
    }
  }

  /** Launches the daemon (when not yet) and waits for its socket: for what needs the supervisor now (health, logs). */
  async connect(): Promise<SupervisorClient> {
    await this.launch();
    return awaitSocket(this.paths, this.project, this.startTimeoutMs);
  }
}

/** The handoff file (see SupervisorLaunch). */
export interface Handoff {
  version: 1;
  containers: { spec: SupervisedContainer; startedAt: number }[];
}

function daemonArgs(project: string, stateDir: string, runDir: string, options: EnsureOptions): string[] {
  const entry = options.entry ?? fileURLToPath(new URL("./main.js", import.meta.url));
  const args = [entry, "--project", project, "--state-dir", stateDir, "--run-dir", runDir];
  if (options.runtime) args.push("--runtime", options.runtime);
  if (options.idleMs !== undefined) args.push("--idle-ms", String(options.idleMs));
  return args;
}

/** Spawns the detached daemon (setsid: it outlives the CLI and its terminal); `inherited` become its descriptors 3, 4, … */
function spawnDaemon(paths: SupervisorPaths, args: string[], inherited: number[]): number | undefined {
  const log = openSync(paths.log, "a", 0o640);
  try {
    const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", log, log, ...inherited] });
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

async function awaitSocket(paths: SupervisorPaths, project: string, timeoutMs: number): Promise<SupervisorClient> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await socketAnswers(paths.socket)) return await SupervisorClient.connect(paths.socket);
    await sleep(20);
  }
  throw new SystemError(`the supervisor of project ${project} did not start`, { hint: `its log is ${paths.log}` });
}

async function takeLock(path: string, waitMs: number): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = Number(readFileSafe(path).trim());
    // An empty file is a holder between its open and its write: wait as for a live one.
    if (owner > 0 && !processAlive(owner)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new ConflictError(`process ${owner} is starting the supervisor (lock ${path})`, { hint: "wait for it, or remove the lock if that process is gone" });
    await sleep(20);
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}



interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** One connection; requests are answered in any order (matched by seq). */
class Connection {
  private seq = 0;
  private pending = new Map<number, Pending>();
  private streams = new Map<number, (f: ResponseFrame) => void>();
  private closedError: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("utf8");
    const decode = createFrameDecoder<ResponseFrame>(
      (f) => this.dispatch(f),
      () => {},
    );
    socket.on("data", (d: string) => decode(d));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closedError = new SystemError("the supervisor closed the connection", { hint: "see $STACK_RUN_DIR/<project>/supervisor.log" });
      for (const p of this.pending.values()) p.reject(this.closedError);
      this.pending.clear();
      for (const s of this.streams.values()) s({ v: PROTOCOL_VERSION, seq: -1, end: true });
      this.streams.clear();
    });
  }

  static open(path: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once("connect", () => resolve(new Connection(s)));
      s.once("error", (e) => reject(new SystemError(`cannot reach the supervisor at ${path}: ${e.message}`, { hint: "run the command again: it starts a new supervisor", cause: e })));
    });
  }

  request<T>(req: Request): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(encodeFrame({ ...req, v: PROTOCOL_VERSION, seq }));
    });
  }

  /** Sends a streaming request; frames go to onFrame until an end frame or close. */
  stream(req: Request, onFrame: (f: ResponseFrame) => void): void {
    const seq = ++this.seq;
    this.streams.set(seq, onFrame);
    this.socket.write(encodeFrame({ ...req, v: PROTOCOL_VERSION, seq }));
  }

  close(): void {
    this.socket.destroy();
  }

  private dispatch(f: ResponseFrame): void {
    const stream = this.streams.get(f.seq);
    if (stream) {
      if ("end" in f || "ok" in f) this.streams.delete(f.seq);
      stream(f);
      return;
    }
    const p = this.pending.get(f.seq);
    if (!p || !("ok" in f)) return;
    this.pending.delete(f.seq);
    if (f.ok) p.resolve(f.result);
    else p.reject(toStackError(f.error));
  }
}

export interface LogsOptions {
  services?: string[];
  follow?: boolean;
  tail?: number;
  /** RFC 3339 bounds; parse user input with parseTimeBound (log-query.ts). */
  since?: string;
  until?: string;
}

export class SupervisorClient {
  private constructor(
    private readonly socketPath: string,
    private readonly conn: Connection,
    readonly info: HelloResult,
  ) {}

  static async connect(socketPath: string): Promise<SupervisorClient> {
    const conn = await Connection.open(socketPath);
    const info = await conn.request<HelloResult>({ op: "hello" });
    return new SupervisorClient(socketPath, conn, info);
  }

  adopt(containers: SupervisedContainer[]): Promise<void> {
    return this.conn.request({ op: "adopt", containers });
  }

  watch(container: SupervisedContainer): Promise<void> {
    return this.conn.request({ op: "watch", container });
  }

  /** Call before the engine stops containers (stop, down): their exits are not restarted. */
  stopping(ids: string[]): Promise<void> {
    return this.conn.request({ op: "stopping", ids });
  }

  forget(id: string): Promise<void> {
    return this.conn.request({ op: "forget", id });
  }

  status(): Promise<ContainerStatus[]> {
    return this.conn.request({ op: "status" });
  }

  shutdown(): Promise<void> {
    return this.conn.request({ op: "shutdown" });
  }

  /** Starts the detached watch in the supervisor; resolves with the services it watches. */
  startFileWatch(spec: FileWatchSpec): Promise<{ services: string[] }> {
    return this.conn.request({ op: "fileWatchStart", spec });
  }

  /** Ends the detached watch; false when none ran. */
  stopFileWatch(): Promise<boolean> {
    return this.conn.request({ op: "fileWatchStop" });
  }

  fileWatchStatus(): Promise<FileWatchStatus> {
    return this.conn.request({ op: "fileWatchStatus" });
  }

  /** Registers an attached watch of these services for as long as this connection lasts. */
  attachFileWatch(services: string[]): Promise<void> {
    return this.conn.request({ op: "fileWatchAttach", services });
  }

  /** Lines merged by time; with follow, runs until the consumer breaks out of the loop. */
  logs(options: LogsOptions = {}): AsyncIterable<LogLine> {
    const args: LogsRequestArgs = { services: options.services, follow: options.follow ?? false, tail: options.tail, since: options.since, until: options.until };
    return this.iterate<LogLine>({ op: "logs", ...args });
  }

  events(): AsyncIterable<SupervisorEvent> {
    return this.iterate<SupervisorEvent>({ op: "events" });
  }

  close(): void {
    this.conn.close();
  }

  /** Each stream has its own connection: breaking out of the loop closes it, which ends the stream server-side. */
  private iterate<T>(req: Request): AsyncIterable<T> {
    const socketPath = this.socketPath;
    return {
      async *[Symbol.asyncIterator]() {
        const conn = await Connection.open(socketPath);
        const queue: T[] = [];
        let done = false;
        let failure: Error | undefined;
        let wake: (() => void) | undefined;
        conn.stream(req, (f) => {
          if ("item" in f) queue.push(f.item as T);
          else if ("ok" in f && !f.ok) failure = toStackError(f.error);
          else done = true;
          if ("end" in f || "ok" in f) done = true;
          wake?.();
        });
        try {
          for (;;) {
            while (queue.length > 0) yield queue.shift()!;
            if (failure) throw failure;
            if (done) return;
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        } finally {
          conn.close();
        }
      },
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
