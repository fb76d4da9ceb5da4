// The Watcher: compiles the rules, watches their paths with chokidar, batches
// changes per service and carries each batch out through the engine's port:
//   - a batch that touched a `rebuild` rule rebuilds the service (nothing else
//     is done for it: the new container starts from the new image);
//   - otherwise the sync rules' files are copied into every running replica
//     (the whole batch before anything else), then `sync+exec` commands run,
//     then the service restarts once if a `restart`/`sync+restart` rule fired.
// Every action is reported as a WatchEvent through `log`.
import { watch, type FSWatcher } from "chokidar";
import { existsSync, lstatSync } from "node:fs";
import { StackError } from "../errors.js";
import type { StackModel } from "../schema/model.js";
import { ChangeQueue, type ChangeBatch, type Timers } from "./change-queue.js";
import type { WatchEvent } from "./events.js";
import { readBuildIgnoreFiles } from "./ignore-files.js";
import { findOutOfSync } from "./initial-sync.js";
import { relativeInside } from "./path-filter.js";
import type { WatchTargetPort } from "./ports.js";
import { compileWatchRules, isSyncAction, type CompiledRule, type IgnoreFileText } from "./rules.js";
import { applySync, expandDirectories, readHostEntries, type SyncResult } from "./sync-apply.js";
import { planSync } from "./sync-plan.js";

export interface WatcherOptions {
  model: StackModel;
  /** Services to watch; all with rules when empty or undefined. */
  services?: string[];
  port: WatchTargetPort;
  log: (event: WatchEvent) => void;
  /** Rebuild services with `build:` and no `develop` section on any change in their build context. */
  rebuildOnChange?: boolean;
  /** Quiet time that ends a small batch of sync-only changes (default 40 ms). */
  quietMs?: number;
  /** Quiet time that ends a burst (burstSize changes or more) or a batch that will restart, exec or rebuild (default 250 ms); ten times burstSize changes or more wait four times as long. */
  burstQuietMs?: number;
  /** Number of changes from which a batch counts as a burst (default 20). */
  burstSize?: number;
  /** Longest a batch collects before it is carried out anyway (default 10 s). */
  maxWaitMs?: number;
  /** Build-context ignore files by service; read from disk when not given. */
  ignoreFiles?: Record<string, IgnoreFileText | undefined>;
  timers?: Timers;
}

/** A batch key: the rule, and whether its paths come from initial_sync rather than a change. */
interface RuleKey {
  rule: CompiledRule;
  initial: boolean;
}

/** Longer than chokidar's 50 ms change throttle. */
const RECHECK_MS = 75;

function statKey(path: string): string {
  try {
    const st = lstatSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return "absent";
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function describeCommand(argv: string[]): string {
  if (argv.length === 3 && argv[0] === "/bin/sh" && argv[1] === "-c") return JSON.stringify(argv[2]);
  return JSON.stringify(argv.join(" "));
}

export class Watcher {
  private rulesList: CompiledRule[] = [];
  private readonly queues = new Map<string, ChangeQueue<RuleKey>>();
  private readonly keys = new Map<CompiledRule, { live: RuleKey; initial: RuleKey }>();
  private fsw: FSWatcher | undefined;
  private state: "new" | "starting" | "running" | "stopped" = "new";
  private readonly rechecks = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: WatcherOptions) {}

  /** The compiled rules (after start). */
  get rules(): readonly CompiledRule[] {
    return this.rulesList;
  }

  /** The services being watched (after start), sorted. */
  get services(): string[] {
    return [...new Set(this.rulesList.map((r) => r.service))].sort();
  }

  /** Compiles the rules (throws on bad ones), starts watching, then runs initial_sync. Resolves once watching. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`Watcher.start: already ${this.state}`);
    this.state = "starting";
    const { model } = this.options;
    const selected = this.options.services && this.options.services.length > 0 ? this.options.services : Object.keys(model.services);
    const ignoreFiles = this.options.ignoreFiles ?? readBuildIgnoreFiles(model, selected.filter((s) => model.services[s] !== undefined));
    const compiled = compileWatchRules(model, { services: this.options.services, rebuildOnChange: this.options.rebuildOnChange, ignoreFiles });
    this.rulesList = compiled.rules;
    for (const rule of this.rulesList) this.keys.set(rule, { live: { rule, initial: false }, initial: { rule, initial: true } });
    for (const service of this.services) {
      this.queues.set(
        service,
        new ChangeQueue<RuleKey>({
          // Short for a lone edit to sync (the latency a user feels), longer
          // once a burst shows (a checkout's events keep coming for a while on
          // a busy machine) or when the batch restarts or rebuilds something.
          quietMs: (batch, changes) => {
            const burst = this.options.burstSize ?? 20;
            const slow = this.options.burstQuietMs ?? 250;
            if (changes >= burst * 10) return slow * 4;
            if (changes >= burst || [...batch.keys()].some((k) => k.rule.action !== "sync")) return slow;
            return this.options.quietMs ?? 40;
          },
          maxWaitMs: this.options.maxWaitMs ?? 10_000,
          timers: this.options.timers,
          run: (batch) => this.runBatch(service, batch),
        }),
      );
    }
    for (const n of compiled.notices) this.emit({ service: n.service, action: "warning", files: [], elapsedMs: 0, message: n.message });
    for (const service of this.services) {
      const mine = this.rulesList.filter((r) => r.service === service);
      this.emit({ service, action: "watching", files: mine.map((r) => r.path), elapsedMs: 0, message: mine.map((r) => this.describeRule(r)).join(", ") });
    }

    const roots = [...new Set(this.rulesList.map((r) => r.path))].sort();
    // chokidar's "ready" can come before an existing path is watched when a
    // missing one is in the same list, so missing paths are added afterwards.
    const missing = roots.filter((p) => !existsSync(p));
    for (const p of missing) {
      for (const r of this.rulesList.filter((r) => r.path === p)) {
        this.emit({ service: r.service, action: "warning", files: [p], elapsedMs: 0, message: `${r.origin}: ${p} does not exist (yet); watching for it` });
      }
    }
    const present = roots.filter((p) => !missing.includes(p));
    const fsw = watch(present, {
      ignoreInitial: true,
      followSymlinks: false,
      // Atomic-save detection delays deletes by 100 ms; batches look at the
      // files' state when they run, so an editor's delete-and-recreate is a
      // change anyway.
      atomic: false,
      ignored: (p: string) => this.prunable(p),
    });
    this.fsw = fsw;
    fsw.on("all", (event, path) => this.onChange(path, event === "addDir" || event === "unlinkDir"));
    fsw.on("error", (e) => this.emit({ service: this.services.join(","), action: "warning", files: [], elapsedMs: 0, message: `file watching: ${message(e)}` }));
    if (present.length > 0) await new Promise<void>((resolve) => fsw.once("ready", () => resolve()));
    if (missing.length > 0) fsw.add(missing);
    this.state = "running";
    await this.queueInitialSync();
  }

  /** Stops watching; resolves when the batch in progress (if any) has ended. Batches not started are dropped. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    for (const t of this.rechecks.values()) clearTimeout(t);
    this.rechecks.clear();
    await this.fsw?.close();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  /** Resolves once no batch collects, waits or runs (for tests and benchmarks). */
  async idle(): Promise<void> {
    for (;;) {
      await Promise.all([...this.queues.values()].map((q) => q.idle()));
      if (![...this.queues.values()].some((q) => q.busy)) return;
    }
  }

  private emit(event: WatchEvent): void {
    try {
      this.options.log(event);
    } catch {
      // A broken log sink must not stop the watch loop.
    }
  }

  private describeRule(r: CompiledRule): string {
    const rel = relativeInside(this.options.model.project_dir, r.path);
    const shown = rel === undefined ? r.path : rel === "" ? "." : `./${rel}`;
    if (r.target !== undefined) return `${shown} (${r.action} → ${r.target}${r.syncBlocked ? ", sync skipped" : ""})`;
    return `${shown} (${r.action})`;
  }

  private prunable(p: string): boolean {
    let covered = false;
    for (const r of this.rulesList) {
      if (relativeInside(r.path, p) === undefined) continue;
      covered = true;
      if (!r.filter.prunes(p)) return false;
    }
    return covered;
  }

  /**
   * chokidar drops a "change" that follows another of the same file within
   * 50 ms (its throttle has no trailing event), so a second quick save could
   * be lost. Each event therefore takes the file's stat and looks again a bit
   * later: if the file changed meanwhile, that counts as a change.
   */
  private recheckLater(path: string): void {
    if (this.rechecks.has(path) || this.state === "stopped") return;
    const before = statKey(path);
    const timer = setTimeout(() => {
      this.rechecks.delete(path);
      if (statKey(path) !== before) this.onChange(path, false);
    }, RECHECK_MS);
    timer.unref();
    this.rechecks.set(path, timer);
  }

  private onChange(path: string, isDirectory: boolean): void {
    if (this.state === "stopped") return;
    if (!isDirectory) this.recheckLater(path);
    // A directory appearing or going is the start of a burst (its files
    // follow, and the watcher may take a while to report them).
    const weight = isDirectory ? (this.options.burstSize ?? 20) : 1;
    for (const rule of this.rulesList) {
      if (!rule.filter.accepts(path)) continue;
      this.queues.get(rule.service)!.add(this.keys.get(rule)!.live, path, weight);
    }
  }

  private async queueInitialSync(): Promise<void> {
    const wanted = this.rulesList.filter((r) => r.initialSync && isSyncAction(r.action) && r.syncBlocked === undefined && r.target !== undefined);
    for (const service of [...new Set(wanted.map((r) => r.service))].sort()) {
      const started = Date.now();
      let found = 0;
      try {
        const roots = await this.options.port.containerRoot(service);
        for (const rule of wanted.filter((r) => r.service === service)) {
          const paths = new Set<string>();
          for (const root of roots) for (const p of await findOutOfSync({ path: rule.path, target: rule.target!, filter: rule.filter }, root.rootfs)) paths.add(p);
          for (const p of paths) this.queues.get(service)!.add(this.keys.get(rule)!.initial, p);
          found += paths.size;
        }
        if (roots.length === 0) this.emit({ service, action: "warning", files: [], elapsedMs: 0, message: "not running: initial sync skipped" });
      } catch (e) {
        this.emit({ service, action: "initial-sync", files: [], elapsedMs: Date.now() - started, error: message(e) });
        continue;
      }
      if (found === 0) this.emit({ service, action: "initial-sync", files: [], elapsedMs: Date.now() - started, written: 0, removed: 0, message: "(up to date)" });
      else this.queues.get(service)!.flush();
    }
  }

  private async runBatch(service: string, batch: ChangeBatch<RuleKey>): Promise<void> {
    const started = Date.now();
    const keys = [...batch.keys()];
    const files = [...new Set(keys.flatMap((k) => [...batch.get(k)!]))].sort();
    const rules = [...new Set(keys.map((k) => k.rule))];
    const { port } = this.options;

    if (rules.some((r) => r.action === "rebuild")) {
      try {
        await port.rebuild(service);
        this.emit({ service, action: "rebuild", files, elapsedMs: Date.now() - started });
      } catch (e) {
        this.emit({ service, action: "rebuild", files, elapsedMs: Date.now() - started, error: message(e) });
      }
      return;
    }

    const syncKeys = keys.filter((k) => isSyncAction(k.rule.action) && k.rule.syncBlocked === undefined && k.rule.target !== undefined);
    if (syncKeys.length > 0) {
      const ok = await this.sync(service, batch, syncKeys, started);
      if (!ok) return; // a restart or exec would see a tree that is not the host's
    }

    for (const rule of rules.filter((r) => r.action === "sync+exec" && r.exec !== undefined)) {
      const exec = rule.exec!;
      const t = Date.now();
      const cmd = describeCommand(exec.command);
      try {
        const r = await port.exec(service, exec.command, { user: exec.user, workingDir: exec.working_dir, environment: exec.environment, privileged: exec.privileged });
        const last = r.output.trim().split("\n").pop() ?? "";
        this.emit({ service, action: "exec", files, elapsedMs: Date.now() - t, message: cmd, exitCode: r.exitCode, ...(r.exitCode === 0 ? {} : { error: `exit status ${r.exitCode}${last ? `: ${last}` : ""}` }) });
      } catch (e) {
        this.emit({ service, action: "exec", files, elapsedMs: Date.now() - t, message: cmd, error: message(e) });
      }
    }

    if (rules.some((r) => r.action === "restart" || r.action === "sync+restart")) {
      const t = Date.now();
      try {
        await port.restart(service);
        this.emit({ service, action: "restart", files, elapsedMs: Date.now() - t });
      } catch (e) {
        this.emit({ service, action: "restart", files, elapsedMs: Date.now() - t, error: message(e) });
      }
    }
  }

  /** Applies the batch's sync rules to every replica; false when it failed (reported). */
  private async sync(service: string, batch: ChangeBatch<RuleKey>, keys: RuleKey[], started: number): Promise<boolean> {
    const action = keys.every((k) => k.initial) ? "initial-sync" : "sync";
    const files = [...new Set(keys.flatMap((k) => [...batch.get(k)!]))].sort();
    try {
      const groups = [];
      const touched = new Set(files);
      for (const k of keys) {
        const entries = await expandDirectories(await readHostEntries(batch.get(k)!), k.rule.filter);
        for (const e of entries) touched.add(e.path);
        groups.push({ rule: { path: k.rule.path, target: k.rule.target!, sharedHostDirs: k.rule.sharedHostDirs, hiddenTargets: k.rule.hiddenTargets }, entries });
      }
      files.splice(0, files.length, ...[...touched].sort());
      const plan = planSync(groups);
      if (plan.ops.length === 0) return true; // all of it skipped (reported at start)
      const roots = await this.options.port.containerRoot(service);
      if (roots.length === 0) {
        this.emit({ service, action: "warning", files, elapsedMs: Date.now() - started, message: `not running: ${files.length === 1 ? "1 change" : `${files.length} changes`} not synced` });
        return false;
      }
      const total: SyncResult = { written: 0, removed: 0, dirs: 0 };
      for (const root of roots) {
        const r = await applySync(plan, root);
        total.written += r.written;
        total.removed += r.removed;
        total.dirs += r.dirs;
      }
      const per = (n: number) => Math.round(n / roots.length);
      this.emit({ service, action, files, elapsedMs: Date.now() - started, written: per(total.written), removed: per(total.removed), ...(roots.length > 1 ? { message: `into ${roots.length} replicas` } : {}) });
      return true;
    } catch (e) {
      this.emit({ service, action, files, elapsedMs: Date.now() - started, error: e instanceof StackError ? e.message : message(e) });
      return false;
    }
  }
}
