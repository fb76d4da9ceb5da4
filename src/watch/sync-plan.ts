// Sync planning (pure): the state of changed host paths → the operations that
// make the container's copy match, as container paths. The executor
// (sync-apply.ts) carries them out. The plan is state-based, not event-based:
// a path created and deleted within one batch is simply absent, so the order
// in which the file events came does not matter.
import { posix } from "node:path";
import { relativeInside } from "./path-filter.js";

export type HostEntry =
  | { path: string; type: "file"; mode: number }
  | { path: string; type: "dir"; mode: number }
  | { path: string; type: "symlink"; link: string }
  | { path: string; type: "absent" }
  /** A fifo, socket or device: never synced. */
  | { path: string; type: "other" };

export type SyncOp =
  | { kind: "write"; source: string; target: string; mode: number }
  | { kind: "symlink"; target: string; link: string }
  | { kind: "mkdir"; target: string; mode: number }
  | { kind: "remove"; target: string };

export interface SyncRuleSpec {
  /** Absolute host path of the rule. */
  path: string;
  /** Absolute container path the rule path maps to. */
  target: string;
  /** Host directories whose files a bind mount already shares. */
  sharedHostDirs: string[];
  /** Container directories covered by a mount (a file synced there would be hidden). */
  hiddenTargets: string[];
}

export interface SyncPlan {
  /** Removes (deepest first), then directories (parents first), then files and links (sorted). */
  ops: SyncOp[];
  /** Host paths left out, and why. */
  skipped: { path: string; reason: string }[];
}

const depth = (p: string) => p.split("/").length;

/** Container path of a host path under a rule; undefined when outside the rule. */
export function containerPathOf(rule: { path: string; target: string }, hostPath: string): string | undefined {
  const rel = relativeInside(rule.path, hostPath);
  if (rel === undefined) return undefined;
  return rel === "" ? rule.target : posix.join(rule.target, rel);
}

export function planSync(groups: { rule: SyncRuleSpec; entries: HostEntry[] }[]): SyncPlan {
  // Last word per container path wins (a later rule over an earlier one).
  const byTarget = new Map<string, SyncOp>();
  const skipped: SyncPlan["skipped"] = [];
  for (const { rule, entries } of groups) {
    for (const entry of entries) {
      const target = containerPathOf(rule, entry.path);
      if (target === undefined) {
        skipped.push({ path: entry.path, reason: `outside the watch path ${rule.path}` });
        continue;
      }
      if (rule.sharedHostDirs.some((d) => relativeInside(d, entry.path) !== undefined)) {
        skipped.push({ path: entry.path, reason: "already in the container through a bind mount" });
        continue;
      }
      const hidden = rule.hiddenTargets.find((t) => relativeInside(t, target) !== undefined);
      if (hidden !== undefined) {
        skipped.push({ path: entry.path, reason: `${target} would be hidden by the mount at ${hidden}` });
        continue;
      }
      switch (entry.type) {
        case "file":
          byTarget.set(target, { kind: "write", source: entry.path, target, mode: entry.mode & 0o7777 });
          break;
        case "dir":
          byTarget.set(target, { kind: "mkdir", target, mode: entry.mode & 0o7777 });
          break;
        case "symlink":
          byTarget.set(target, { kind: "symlink", target, link: entry.link });
          break;
        case "absent":
          byTarget.set(target, { kind: "remove", target });
          break;
        case "other":
          skipped.push({ path: entry.path, reason: "not a regular file, directory or symbolic link" });
          break;
      }
    }
  }
  const ops = [...byTarget.values()];
  const removes = ops
    .filter((o) => o.kind === "remove")
    .map((o) => o.target)
    .sort();
  // A remove below another removed directory is already done by it.
  const removeSet = new Set(removes);
  const topRemoves = removes.filter((t) => {
    for (let d = posix.dirname(t); d !== "/" && d !== "."; d = posix.dirname(d)) if (removeSet.has(d)) return false;
    return !(t !== "/" && removeSet.has("/"));
  });
  const mkdirs = ops.filter((o): o is Extract<SyncOp, { kind: "mkdir" }> => o.kind === "mkdir").sort((a, b) => depth(a.target) - depth(b.target) || cmp(a.target, b.target));
  const files = ops.filter((o) => o.kind === "write" || o.kind === "symlink").sort((a, b) => cmp(a.target, b.target));
  return {
    ops: [...topRemoves.sort((a, b) => depth(b) - depth(a) || cmp(a, b)).map((target): SyncOp => ({ kind: "remove", target })), ...mkdirs, ...files],
    skipped: skipped.sort((a, b) => cmp(a.path, b.path)),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
