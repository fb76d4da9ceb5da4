// Shared pieces of the watch integration tests: a WatchTargetPort whose
// "containers" are temp folders, an event recorder, and a count of this
// process's inotify watches (the Watcher must give them all back).
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ContainerRoot, WatchExecOptions, WatchTargetPort } from "../../../src/watch/ports.js";
import type { WatchEvent } from "../../../src/watch/events.js";

export class TempDirPort implements WatchTargetPort {
  calls: string[] = [];
  running = true;
  rebuildDelayMs = 0;
  failNextRebuild: string | undefined;
  execResult = { exitCode: 0, output: "ok\n" };
  execCalls: { argv: string[]; options?: WatchExecOptions }[] = [];
  /** Called at each restart with the service, to look at the tree the restart sees. */
  onRestart?: (service: string) => void;

  constructor(readonly roots: Record<string, ContainerRoot[]>) {}

  async containerRoot(service: string): Promise<ContainerRoot[]> {
    return this.running ? (this.roots[service] ?? []) : [];
  }
  async restart(service: string): Promise<void> {
    this.calls.push(`restart ${service}`);
    this.onRestart?.(service);
  }
  async rebuild(service: string): Promise<void> {
    this.calls.push(`rebuild ${service} start`);
    await new Promise((r) => setTimeout(r, this.rebuildDelayMs));
    const fail = this.failNextRebuild;
    this.failNextRebuild = undefined;
    if (fail !== undefined) {
      this.calls.push(`rebuild ${service} failed`);
      throw new Error(fail);
    }
    this.calls.push(`rebuild ${service} done`);
  }
  async exec(service: string, argv: string[], options?: WatchExecOptions): Promise<{ exitCode: number; output: string }> {
    this.calls.push(`exec ${service} ${argv.join(" ")}`);
    this.execCalls.push({ argv, options });
    return this.execResult;
  }
}

export class EventLog {
  events: WatchEvent[] = [];
  readonly log = (e: WatchEvent) => void this.events.push(e);
  of(action: WatchEvent["action"]): WatchEvent[] {
    return this.events.filter((e) => e.action === action);
  }
  /** Waits until `pred` holds for some event (after index `from`), or fails after `ms`. */
  async waitFor(pred: (e: WatchEvent) => boolean, ms = 5000, from = 0): Promise<WatchEvent> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.events.slice(from).find(pred);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`no matching watch event within ${ms} ms; events so far:\n${this.events.map((e) => JSON.stringify(e)).join("\n")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `stack-watch-${name}-`));
}

export function makeRootfs(base: string, name = "rootfs"): string {
  const root = join(base, name);
  mkdirSync(join(root, "app"), { recursive: true });
  mkdirSync(join(root, "etc"), { recursive: true });
  return root;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Number of inotify watches this process holds (all inotify fds). */
export function inotifyWatchCount(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    let link = "";
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (!link.includes("inotify")) continue;
    try {
      n += readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").split("\n").filter((l) => l.startsWith("inotify wd:")).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

export function owner(p: string): [number, number, number] {
  const st = statSync(p);
  return [st.uid, st.gid, st.mode & 0o7777];
}
