// What a Watcher reports: one structured event per thing it did, and the
// plain line `stack watch` prints for it.

export type WatchEventAction = "watching" | "sync" | "initial-sync" | "rebuild" | "restart" | "exec" | "warning";

export interface WatchEvent {
  service: string;
  action: WatchEventAction;
  /** The host paths the event is about (changed files), sorted. */
  files: string[];
  /** How long the action took. */
  elapsedMs: number;
  /** Set when the action failed: the error's message. */
  error?: string;
  /** Details: what is watched, the warning, the exec'd command. */
  message?: string;
  /** sync: files and links written, paths removed (per container, summed over replicas). */
  written?: number;
  removed?: number;
  /** exec: the command's exit status. */
  exitCode?: number;
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function formatWatchEvent(e: WatchEvent): string {
  const took = duration(e.elapsedMs);
  switch (e.action) {
    case "watching":
      return `${e.service}: watching ${e.message ?? plural(e.files.length, "path")}`;
    case "warning":
      return `${e.service}: ${e.message ?? e.error ?? "warning"}`;
    case "sync":
    case "initial-sync": {
      const label = e.action === "sync" ? "sync" : "initial sync";
      if (e.error !== undefined) return `${e.service}: ${label} failed: ${e.error}`;
      const written = e.written ?? e.files.length;
      const removed = e.removed ?? 0;
      const parts: string[] = [];
      if (written > 0 || removed === 0) parts.push(`${e.action === "sync" ? "synced" : "initial sync:"} ${plural(written, "file")}`);
      if (removed > 0) parts.push(parts.length === 0 ? `${e.action === "sync" ? "removed" : "initial sync removed"} ${plural(removed, "file")}` : `removed ${removed}`);
      return `${e.service}: ${parts.join(", ")}${e.message ? ` ${e.message}` : ""} (${took})`;
    }
    case "rebuild":
      if (e.error !== undefined) return `${e.service}: rebuild failed: ${e.error} (old container keeps running)`;
      return `${e.service}: rebuilt after ${plural(e.files.length, "change")} (${took})`;
    case "restart":
      if (e.error !== undefined) return `${e.service}: restart failed: ${e.error}`;
      return `${e.service}: restarted (${took})`;
    case "exec": {
      const cmd = e.message ?? "command";
      if (e.error !== undefined) return `${e.service}: ${cmd} failed: ${e.error} (${took})`;
      return `${e.service}: ran ${cmd} (exit ${e.exitCode ?? 0}, ${took})`;
    }
  }
}
