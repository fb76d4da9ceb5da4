// The supervisor's core: per container, log capture from the FIFOs, exit
// detection, restart policies and healthchecks; an event log; and the state
// file that lets a new supervisor re-adopt everything after a kill -9.
// Everything the host does goes through RuntimePort (containers) and plain
// files under the project's state folder.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../fs/atomic-write.js";
import { NotFoundError } from "../errors.js";
import { applyProbe, initialHealth, nextProbeDelay, type HealthState } from "./health.js";
import { readFifo, type FifoReader } from "./fifo-reader.js";
import { readRotatedLines, RotatingFile } from "./log-file.js";
import { createTimestampClock, decodeRecord, encodeRecord, formatTimestamp, splitLines, type LogLine, type LogStream } from "./log-record.js";
import { mergeByTime, selectLines, withinBounds, type LogQuery } from "./log-query.js";
import type { ContainerPhase, ContainerStatus, SupervisedContainer, SupervisorEvent, SupervisorEventType } from "./protocol.js";
import { decideRestart, emptyHistory, recordRestart, type RestartHistory } from "./restart-policy.js";
import type { RuntimePort, RuntimeStatus } from "./runtime-port.js";

export interface SupervisorOptions {
  project: string;
  /** $STATE/projects/<project> */
  projectStateDir: string;
  runtime: RuntimePort;
  /** A partial last line is written after this long without its newline. */
  partialFlushMs?: number;
  /** Called when the supervisor has nothing left to watch (see `busy`). */
  onChange?: () => void;
  now?: () => number;
}

interface PersistedContainer {
  spec: SupervisedContainer;
  phase: ContainerPhase;
  history: RestartHistory;
  stoppedByUser: boolean;
  startedAt: number;
  finishedAt?: number;
  exitCode?: number;
  oomKilled?: boolean;
  restartAt?: number;
  health?: HealthState;
}

interface PersistedState {
  version: 1;
  containers: Record<string, PersistedContainer>;
}

interface Live {
  readers: FifoReader[];
  pending: Record<LogStream, string>;
  flushTimer?: NodeJS.Timeout;
  restartTimer?: NodeJS.Timeout;
  healthTimer?: NodeJS.Timeout;
  /** A restart's start under way (stopping() waits for it). */
  starting?: Promise<void>;
  log: RotatingFile;
  /** Increments per run: a late callback of an earlier run is ignored. */
  generation: number;
}

interface LogFollower {
  services?: Set<string>;
  until?: string;
  send(line: LogLine): void;
}

const STATE_FILE = "supervisor-state.json";

export class Supervisor {
  private state: PersistedState;
  private live = new Map<string, Live>();
  private logFollowers = new Set<LogFollower>();
  private eventFollowers = new Set<(e: SupervisorEvent) => void>();
  private events: RotatingFile;
  private timestamp = createTimestampClock();
  private closed = false;
  private now: () => number;

  constructor(private readonly opts: SupervisorOptions) {
    this.now = opts.now ?? Date.now;
    mkdirSync(opts.projectStateDir, { recursive: true });
    this.state = this.readState();
    this.events = new RotatingFile(opts.projectStateDir, { maxSizeBytes: 1024 * 1024, maxFiles: 2 }, "events.jsonl");
  }

  /** Re-adopts what the state file lists (after a restart or a kill -9 of an earlier supervisor). */
  resume(): void {
    for (const id of Object.keys(this.state.containers).sort()) {
      const c = this.state.containers[id]!;
      if (c.phase === "running") this.attach(c);
      else if (c.phase === "restarting") this.armRestart(c, Math.max(0, (c.restartAt ?? 0) - this.now()), c.history.lastDelayMs);
    }
  }

  /** true while a container runs or waits for a restart. */
  busy(): boolean {
    return Object.values(this.state.containers).some((c) => c.phase === "running" || c.phase === "restarting");
  }

  adopt(specs: SupervisedContainer[]): void {
    for (const spec of [...specs].sort((a, b) => a.id.localeCompare(b.id))) {
      const known = this.state.containers[spec.id];
      if (known) {
        known.spec = spec;
        this.liveOf(known).log.setRotation(spec.logging);
        continue;
      }
      this.watch(spec);
    }
    this.persist();
  }

  /** The engine (re)started this container (at `startedAt`, when it was handed over before this supervisor ran): watch it from a fresh start. */
  watch(spec: SupervisedContainer, startedAt = this.now()): void {
    this.stopLive(spec.id);
    const c: PersistedContainer = {
      spec,
      phase: "running",
      history: emptyHistory(),
      stoppedByUser: false,
      startedAt,
      health: spec.healthcheck ? initialHealth(startedAt) : undefined,
    };
    this.state.containers[spec.id] = c;
    // a partial line left by the previous run is a line of its own
    const l = this.liveOf(c);
    this.flushPartial(c, l, "stdout");
    this.flushPartial(c, l, "stderr");
    this.emit("start", c);
    this.attach(c);
    this.persist();
  }

  /**
   * The caller is about to stop (or remove) these containers: no restart
   * from now on. Resolves once a restart whose start was already under way
   * has finished, so that the caller stops what it started — rather than
   * remove a container that the runtime is still starting, which would then
   * run on, nobody's.
   */
  async stopping(ids: string[]): Promise<void> {
    const starts: Array<Promise<void>> = [];
    for (const id of ids) {
      const c = this.state.containers[id];
      if (!c) continue; // not (or no longer) supervised: nothing to hold back
      c.stoppedByUser = true;
      if (c.phase === "restarting") {
        clearTimeout(this.live.get(id)?.restartTimer);
        c.phase = "stopped";
        this.emit("stop", c);
      }
      const starting = this.live.get(id)?.starting;
      if (starting) starts.push(starting.catch(() => undefined)); // a failed start is the restart's to report
    }
    this.persist();
    await Promise.all(starts);
  }

  forget(id: string): void {
    this.require(id);
    this.stopLive(id);
    delete this.state.containers[id];
    this.persist();
  }

  status(): ContainerStatus[] {
    return Object.values(this.state.containers)
      .sort((a, b) => a.spec.service.localeCompare(b.spec.service) || a.spec.index - b.spec.index || a.spec.id.localeCompare(b.spec.id))
      .map((c) => ({
        id: c.spec.id,
        service: c.spec.service,
        index: c.spec.index,
        state: c.phase,
        health: c.health?.status,
        failingStreak: c.health?.failingStreak,
        healthLog: c.health?.log,
        exitCode: c.exitCode,
        oomKilled: c.oomKilled,
        restarts: c.history.restarts,
        startedAt: iso(c.startedAt),
        finishedAt: c.finishedAt === undefined ? undefined : iso(c.finishedAt),
      }));
  }

  /**
   * The stored lines of the query's services (merged by time), then — with
   * follow — every new line through `send` until the returned function is
   * called. History and subscription happen in one turn of the event loop,
   * so no line is missed or repeated between them.
   */
  logs(query: LogQuery, send: (line: LogLine) => void): () => void {
    const services = query.services && query.services.length > 0 ? new Set(query.services) : undefined;
    const containers = Object.values(this.state.containers)
      .filter((c) => !services || services.has(c.spec.service))
      .sort((a, b) => a.spec.service.localeCompare(b.spec.service) || a.spec.index - b.spec.index);
    const per = containers.map((c) => {
      const lines: LogLine[] = [];
      // --tail alone needs only the newest files
      const enough = query.since === undefined && query.until === undefined ? query.tail : undefined;
      for (const text of readRotatedLines(join(c.spec.dir, "logs"), Math.max(c.spec.logging.maxFiles, 16), undefined, enough)) {
        const r = decodeRecord(text);
        if (r) lines.push({ ...r, service: c.spec.service, index: c.spec.index, container: c.spec.id });
      }
      return selectLines(lines, query);
    });
    for (const line of mergeByTime(per)) send(line);
    if (!query.follow) return () => {};
    const follower: LogFollower = { services, until: query.until, send };
    this.logFollowers.add(follower);
    return () => this.logFollowers.delete(follower);
  }

  subscribeEvents(send: (e: SupervisorEvent) => void): () => void {
    this.eventFollowers.add(send);
    return () => this.eventFollowers.delete(send);
  }

  /** Stops reading and timers; containers keep running (they are not ours). */
  close(): void {
    this.closed = true;
    for (const id of [...this.live.keys()]) this.stopLive(id);
    this.events.close();
  }

  private require(id: string): PersistedContainer {
    const c = this.state.containers[id];
    if (!c) throw new NotFoundError(`container ${JSON.stringify(id)} is not supervised in project ${this.opts.project}`, { hint: "adopt or watch it first" });
    return c;
  }

  private liveOf(c: PersistedContainer): Live {
    let l = this.live.get(c.spec.id);
    if (!l) {
      // a partial line an earlier supervisor had read but not yet written
      mkdirSync(join(c.spec.dir, "logs"), { recursive: true });
      const pending = { stdout: readText(partialFile(c, "stdout")), stderr: readText(partialFile(c, "stderr")) };
      l = { readers: [], pending, log: new RotatingFile(join(c.spec.dir, "logs"), c.spec.logging), generation: 0 };
      this.live.set(c.spec.id, l);
    }
    return l;
  }

  private stopLive(id: string): void {
    const l = this.live.get(id);
    if (!l) return;
    for (const r of l.readers) r.close();
    clearTimeout(l.flushTimer);
    clearTimeout(l.restartTimer);
    clearTimeout(l.healthTimer);
    l.log.close();
    this.live.delete(id);
  }

  /** Opens both FIFOs of the current run; when both reach EOF, the run has ended. */
  private attach(c: PersistedContainer): void {
    const l = this.liveOf(c);
    for (const r of l.readers) r.close();
    const generation = ++l.generation;
    let open = 0;
    const readers: FifoReader[] = [];
    for (const stream of ["stdout", "stderr"] as const) {
      const path = join(c.spec.dir, `${stream}.fifo`);
      if (!existsSync(path)) continue;
      open++;
      readers.push(
        readFifo(
          path,
          (text) => this.capture(c, l, stream, text),
          () => {
            if (l.generation !== generation || this.closed) return;
            this.flushPartial(c, l, stream);
            if (--open === 0) void this.onRunEnded(c, generation);
          },
        ),
      );
    }
    l.readers = readers;
    if (open === 0) void this.onRunEnded(c, generation);
    else if (existsSync(join(c.spec.dir, "exit"))) {
      // The run had ended before the FIFOs were opened (exited while no supervisor watched, or right after
      // its start): no writer is left to close them, so no EOF would come. Whatever was still buffered is
      // delivered right away; then end the readers ourselves.
      setTimeout(() => {
        if (l.generation === generation) for (const r of readers) r.end();
      }, 200);
    }
    this.scheduleHealth(c);
  }

  private capture(c: PersistedContainer, l: Live, stream: LogStream, text: string): void {
    const { lines, rest } = splitLines(l.pending[stream], text);
    const hadPartial = l.pending[stream] !== "";
    l.pending[stream] = rest;
    for (const line of lines) this.writeLine(c, l, stream, line);
    // A partial line is already out of the pipe: keep it on disk too, so a kill -9 does not lose it.
    if (rest !== "") writeFileSync(partialFile(c, stream), rest);
    else if (hadPartial) rmSync(partialFile(c, stream), { force: true });
    clearTimeout(l.flushTimer);
    if (l.pending.stdout !== "" || l.pending.stderr !== "") {
      l.flushTimer = setTimeout(() => {
        this.flushPartial(c, l, "stdout");
        this.flushPartial(c, l, "stderr");
      }, this.opts.partialFlushMs ?? 1000);
    }
  }

  private flushPartial(c: PersistedContainer, l: Live, stream: LogStream): void {
    if (l.pending[stream] === "") return;
    const line = l.pending[stream];
    l.pending[stream] = "";
    this.writeLine(c, l, stream, line);
    rmSync(partialFile(c, stream), { force: true });
  }

  private writeLine(c: PersistedContainer, l: Live, stream: LogStream, text: string): void {
    const record = { t: this.timestamp(), s: stream, l: text };
    l.log.append(encodeRecord(record));
    if (this.logFollowers.size === 0) return;
    const line: LogLine = { ...record, service: c.spec.service, index: c.spec.index, container: c.spec.id };
    for (const f of this.logFollowers) if ((!f.services || f.services.has(c.spec.service)) && withinBounds(line.t, { until: f.until })) f.send(line);
  }

  private async onRunEnded(c: PersistedContainer, generation: number): Promise<void> {
    let st: RuntimeStatus;
    try {
      // The monitor writes the exit file before it exits (and closes the FIFOs): wait briefly if it is not there yet.
      st = await this.opts.runtime.status(c.spec.id);
      for (let i = 0; i < 100 && st.status === "running"; i++) {
        await sleep(20);
        st = await this.opts.runtime.status(c.spec.id);
      }
    } catch (e) {
      // The runtime could not tell (a transient failure): ask again in a second rather than guess an exit code.
      this.log(`status of ${c.spec.id} failed: ${(e as Error).message}; retrying`);
      setTimeout(() => void this.onRunEnded(c, generation), 1000);
      return;
    }
    const l = this.live.get(c.spec.id);
    if (this.closed || !l || l.generation !== generation || this.state.containers[c.spec.id] !== c || c.phase !== "running") return;
    clearTimeout(l.healthTimer);
    const now = this.now();
    c.exitCode = st.exitCode ?? -1;
    c.oomKilled = st.oomKilled ?? false;
    c.finishedAt = now;
    if (c.oomKilled) this.emit("oom", c);
    this.emit("die", c);
    const decision = decideRestart(c.spec.restart, c.history, { exitCode: c.exitCode, ranMs: now - c.startedAt, stoppedByUser: c.stoppedByUser, now });
    if (decision.restart) this.scheduleRestart(c, decision.delayMs);
    else c.phase = c.stoppedByUser ? "stopped" : "exited";
    this.persist();
  }

  private scheduleRestart(c: PersistedContainer, delayMs: number): void {
    c.phase = "restarting";
    c.restartAt = this.now() + delayMs;
    c.history = recordRestart(c.history, delayMs, c.restartAt);
    this.armRestart(c, delayMs, delayMs);
  }

  private armRestart(c: PersistedContainer, waitMs: number, delayMs: number): void {
    const l = this.liveOf(c);
    clearTimeout(l.restartTimer);
    l.restartTimer = setTimeout(() => void this.restart(c, delayMs), waitMs);
  }

  private async restart(c: PersistedContainer, delayMs: number): Promise<void> {
    if (this.closed || this.state.containers[c.spec.id] !== c || c.phase !== "restarting") return;
    const l = this.liveOf(c);
    const start = this.opts.runtime.start(c.spec.id);
    l.starting = start;
    const done = () => {
      if (l.starting === start) l.starting = undefined;
    };
    start.then(done, done);
    try {
      await start;
    } catch (e) {
      // Could not start again: counts as a failed run, so the policy (and its back-off) decides what follows.
      this.log(`restart of ${c.spec.id} failed: ${(e as Error).message}`);
      c.exitCode = -1;
      c.finishedAt = this.now();
      const d = decideRestart(c.spec.restart, c.history, { exitCode: -1, ranMs: 0, stoppedByUser: c.stoppedByUser, now: this.now() });
      if (d.restart) this.scheduleRestart(c, d.delayMs);
      else c.phase = "exited";
      this.persist();
      return;
    }
    if (this.closed || this.state.containers[c.spec.id] !== c || c.phase !== "restarting") return;
    c.phase = "running";
    c.startedAt = this.now();
    c.restartAt = undefined;
    c.exitCode = undefined;
    c.finishedAt = undefined;
    c.oomKilled = undefined;
    if (c.spec.healthcheck) c.health = initialHealth(c.startedAt);
    this.emit("restart", c, { delayMs });
    this.emit("start", c);
    this.attach(c);
    this.persist();
  }

  private scheduleHealth(c: PersistedContainer): void {
    const spec = c.spec.healthcheck;
    const l = this.live.get(c.spec.id);
    if (!spec || !l || c.phase !== "running") return;
    c.health ??= initialHealth(c.startedAt);
    clearTimeout(l.healthTimer);
    const generation = l.generation;
    l.healthTimer = setTimeout(() => void this.probe(c, generation), nextProbeDelay(spec, c.health, this.now()));
  }

  private async probe(c: PersistedContainer, generation: number): Promise<void> {
    const spec = c.spec.healthcheck!;
    // The engine asks for the watch before it spawns the container: a probe due before the runtime
    // has made it (a short interval, a loaded host) waits for it instead of counting as a failure.
    const st = await this.opts.runtime.status(c.spec.id).catch(() => undefined);
    if (st?.status === "created") {
      const l = this.live.get(c.spec.id);
      if (this.closed || !l || l.generation !== generation || c.phase !== "running") return;
      clearTimeout(l.healthTimer);
      l.healthTimer = setTimeout(() => void this.probe(c, generation), 20);
      return;
    }
    const start = this.now();
    let result;
    try {
      result = await this.opts.runtime.exec(c.spec.id, spec.argv, { timeoutMs: spec.timeoutMs });
    } catch (e) {
      result = { exitCode: -1, output: `healthcheck could not run: ${(e as Error).message}` };
    }
    const l = this.live.get(c.spec.id);
    if (this.closed || !l || l.generation !== generation || c.phase !== "running" || !c.health) return;
    const before = c.health.status;
    c.health = applyProbe(spec, c.health, { start, end: this.now(), exitCode: result.exitCode, output: result.output });
    // Persist (an fsync) on a change of status only: a new supervisor may start a streak over, not a status.
    if (c.health.status !== before) {
      this.emit("health_status", c, { health: c.health.status });
      this.persist();
    }
    this.scheduleHealth(c);
  }

  private emit(type: SupervisorEventType, c: PersistedContainer, extra: Partial<SupervisorEvent> = {}): void {
    const e: SupervisorEvent = { t: this.timestamp(), type, id: c.spec.id, service: c.spec.service, ...extra };
    if (type === "die") e.exitCode = c.exitCode;
    this.events.append(JSON.stringify(e) + "\n");
    for (const f of this.eventFollowers) f(e);
  }

  /**
   * The state file after a restart or a kill -9 of an earlier supervisor. One
   * that an OS crash left unreadable (it is written without fsync, see
   * persist) describes containers that died with the OS: it starts empty, and
   * the next `stack up` hands the containers over again.
   */
  private readState(): PersistedState {
    const path = join(this.opts.projectStateDir, STATE_FILE);
    try {
      return readJson<PersistedState>(path, { version: 1, containers: {} });
    } catch (e) {
      this.log(`${path} is unreadable (${(e as Error).message}); starting with no containers`);
      return { version: 1, containers: {} };
    }
  }

  /**
   * Atomic (a reader or a killed supervisor sees the old or the new file) but
   * not fsynced: every container start, exit and health change writes it, an
   * fsync costs 5–30 ms of a blocked event loop on the development VM, and
   * what it records (live containers) does not outlive an OS crash anyway.
   */
  private persist(): void {
    writeJsonAtomic(join(this.opts.projectStateDir, STATE_FILE), this.state, { durable: false });
    this.opts.onChange?.();
  }

  private log(message: string): void {
    process.stderr.write(`${new Date(this.now()).toISOString()} ${message}\n`);
  }
}

function partialFile(c: PersistedContainer, stream: LogStream): string {
  return join(c.spec.dir, "logs", `partial.${stream}`);
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function iso(ms: number): string {
  return formatTimestamp(BigInt(ms) * 1_000_000n);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
