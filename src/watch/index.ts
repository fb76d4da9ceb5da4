// Live rebuild and sync: `develop.watch` rules carried out against running
// containers through a WatchTargetPort. See docs/watch.md.
export type { ContainerRoot, WatchExecOptions, WatchTargetPort } from "./ports.js";
export { compileWatchRules, dockerfilePath, isSyncAction, localBuildContext } from "./rules.js";
export type { CompileOptions, CompiledRule, CompiledWatch, IgnoreFileText, WatchNotice } from "./rules.js";
export { compilePathFilter, isEditorFile, relativeInside } from "./path-filter.js";
export type { BuildContextIgnore, PathFilter, PathFilterSpec } from "./path-filter.js";
export { readBuildIgnoreFiles } from "./ignore-files.js";
export { ChangeQueue, realTimers } from "./change-queue.js";
export type { ChangeBatch, ChangeQueueOptions, Timers } from "./change-queue.js";
export { containerPathOf, planSync } from "./sync-plan.js";
export type { HostEntry, SyncOp, SyncPlan, SyncRuleSpec } from "./sync-plan.js";
export { applySync, expandDirectories, readHostEntries } from "./sync-apply.js";
export type { SyncResult } from "./sync-apply.js";
export { resolveInRootfs, resolveParent } from "./rootfs-path.js";
export { findOutOfSync } from "./initial-sync.js";
export { formatWatchEvent } from "./events.js";
export type { WatchEvent, WatchEventAction } from "./events.js";
export { Watcher, describeCommand } from "./watcher.js";
export type { WatcherOptions } from "./watcher.js";
