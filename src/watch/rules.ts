// Watch rules compiled from the StackModel (pure): each `develop.watch` entry
// of the chosen services becomes a CompiledRule with its path filter and what
// sync may not touch; `--rebuild-on-change` adds a rebuild rule over the build
// context of a service with `build:` and no `develop` section. Problems are
// collected and thrown together, each naming its dotted path.
import { isAbsolute, posix } from "node:path";
import { InvalidInputError, NotFoundError } from "../errors.js";
import { compileIgnore } from "../image/dockerignore.js";
import { didYouMean } from "../schema/did-you-mean.js";
import type { ServiceModel, StackModel, WatchAction, WatchRuleModel } from "../schema/model.js";
import { compilePathFilter, relativeInside, type BuildContextIgnore, type PathFilter } from "./path-filter.js";

export interface CompiledRule {
  service: string;
  /** Dotted path of the rule in the stack, or `services.X.build (--rebuild-on-change)`. */
  origin: string;
  action: WatchAction;
  /** Absolute host path. */
  path: string;
  /** Absolute container path (sync actions). */
  target?: string;
  exec?: WatchRuleModel["exec"];
  initialSync: boolean;
  filter: PathFilter;
  /** Why this rule never syncs (a bind mount already shares the files, or would hide them); undefined when it does. */
  syncBlocked?: string;
  /** Host directories below the rule path that a bind mount already shares: changes there are not synced. */
  sharedHostDirs: string[];
  /** Container directories that a mount covers: a synced file there would be hidden. */
  hiddenTargets: string[];
}

export interface WatchNotice {
  service: string;
  message: string;
}

export interface CompiledWatch {
  rules: CompiledRule[];
  /** Reported once at start (bind-mount overlaps, services without rules). */
  notices: WatchNotice[];
}

/** A build context's ignore file, as read by readBuildIgnoreFiles. */
export interface IgnoreFileText {
  path: string;
  text: string;
}

export interface CompileOptions {
  /** Services to watch; all enabled services when empty or undefined. */
  services?: string[];
  /** Rebuild a service with `build:` and no `develop` section on any change in its context. */
  rebuildOnChange?: boolean;
  /** The .dockerignore text of each service with a local build context (by service name). */
  ignoreFiles?: Record<string, IgnoreFileText | undefined>;
}

const SYNC_ACTIONS = new Set<WatchAction>(["sync", "sync+restart", "sync+exec"]);

export function isSyncAction(action: WatchAction): boolean {
  return SYNC_ACTIONS.has(action);
}

const REMOTE_CONTEXT = /^([a-z][a-z0-9+.-]*:\/\/|git@|github\.com\/)/i;

/** The service's local build context directory, or undefined (no build, or a git URL). */
export function localBuildContext(service: ServiceModel): string | undefined {
  const ctx = service.build?.context;
  if (ctx === undefined || REMOTE_CONTEXT.test(ctx) || !isAbsolute(ctx)) return undefined;
  return ctx;
}

/** Absolute path of the service's Dockerfile, when it is a file in the context. */
export function dockerfilePath(service: ServiceModel): string | undefined {
  const ctx = localBuildContext(service);
  if (ctx === undefined || service.build?.dockerfile_inline !== undefined) return undefined;
  return posix.resolve(ctx, service.build?.dockerfile ?? "Dockerfile");
}

function buildIgnoreFor(service: ServiceModel, file: IgnoreFileText | undefined): BuildContextIgnore | undefined {
  const context = localBuildContext(service);
  if (context === undefined) return undefined;
  const keep = [dockerfilePath(service), file?.path, posix.join(context, ".dockerignore")].filter((p): p is string => p !== undefined);
  return { context, rules: compileIgnore(file?.text ?? "", file?.path ?? ".dockerignore"), keep };
}

function within(parent: string, p: string): boolean {
  return relativeInside(parent, p) !== undefined;
}

/** Mount overlap of one sync rule with the service's volumes: a reason to skip the rule, or per-path exclusions. */
function mountOverlap(service: ServiceModel, rule: { path: string; target: string }): { blocked?: string; sharedHostDirs: string[]; hiddenTargets: string[]; notices: string[] } {
  const sharedHostDirs: string[] = [];
  const hiddenTargets: string[] = [];
  const notices: string[] = [];
  for (const v of service.volumes) {
    if (v.type === "bind") {
      if (within(v.source, rule.path)) {
        const blocked = `watch path ${rule.path} is already bind-mounted (${v.source} → ${v.target}): sync skipped, the files are there`;
        return { blocked, sharedHostDirs: [], hiddenTargets: [], notices: [blocked] };
      }
      if (within(v.target, rule.target)) {
        const blocked = `sync target ${rule.target} lies inside the bind mount ${v.source} → ${v.target}: sync skipped, files written there would be hidden`;
        return { blocked, sharedHostDirs: [], hiddenTargets: [], notices: [blocked] };
      }
      if (within(rule.path, v.source)) {
        sharedHostDirs.push(v.source);
        notices.push(`${v.source} is bind-mounted (→ ${v.target}): changes below it are not synced`);
      }
      if (within(rule.target, v.target)) {
        hiddenTargets.push(v.target);
        notices.push(`${v.target} is a bind mount inside sync target ${rule.target}: files synced below it would be hidden, so they are skipped`);
      }
    } else if (v.type === "volume" || v.type === "tmpfs" || v.type === "image") {
      const what = v.type === "volume" ? `volume ${v.source ?? "(anonymous)"}` : v.type;
      if (within(v.target, rule.target)) {
        const blocked = `sync target ${rule.target} lies inside the ${what} mounted at ${v.target}: syncing into a mount other than the container's root filesystem is not supported; sync skipped`;
        return { blocked, sharedHostDirs: [], hiddenTargets: [], notices: [blocked] };
      }
      if (within(rule.target, v.target)) {
        hiddenTargets.push(v.target);
        notices.push(`${v.target} (${what}) is mounted inside sync target ${rule.target}: files synced below it would be hidden, so they are skipped`);
      }
    }
  }
  return { sharedHostDirs: sharedHostDirs.sort(), hiddenTargets: hiddenTargets.sort(), notices };
}

export function compileWatchRules(model: StackModel, options: CompileOptions = {}): CompiledWatch {
  const known = Object.keys(model.services).sort();
  const selected = options.services && options.services.length > 0 ? [...new Set(options.services)].sort() : known;
  for (const name of selected) {
    if (model.services[name] === undefined) {
      const disabled = model.disabled_services[name] !== undefined;
      throw new NotFoundError(`no such service: ${JSON.stringify(name)}${disabled ? " (its profile is not active)" : ""}`, {
        hint: disabled ? `enable its profile with --profile` : (didYouMean(name, known) ?? `services in this stack: ${known.join(", ")}`),
      });
    }
  }

  const rules: CompiledRule[] = [];
  const notices: WatchNotice[] = [];
  const problems: string[] = [];

  for (const name of selected) {
    const service = model.services[name]!;
    const ignoreFile = options.ignoreFiles?.[name];
    let buildIgnore: BuildContextIgnore | undefined;
    try {
      buildIgnore = buildIgnoreFor(service, ignoreFile);
    } catch (e) {
      problems.push((e as Error).message);
      continue;
    }
    const watch = service.develop?.watch ?? [];
    if (watch.length === 0) {
      const context = localBuildContext(service);
      if (options.rebuildOnChange && service.develop === undefined && context !== undefined) {
        const origin = `services.${name}.build (--rebuild-on-change)`;
        rules.push({
          service: name,
          origin,
          action: "rebuild",
          path: context,
          initialSync: false,
          filter: compilePathFilter({ path: context, ignore: [], include: [], buildIgnore, origin }),
          sharedHostDirs: [],
          hiddenTargets: [],
        });
      } else if (options.services?.includes(name)) {
        const why = options.rebuildOnChange && service.build !== undefined && context === undefined ? "its build context is not a local directory" : "it has no develop.watch rules";
        notices.push({ service: name, message: `not watched: ${why}` });
      }
      continue;
    }
    watch.forEach((w, i) => {
      const origin = `services.${name}.develop.watch[${i}]`;
      const before = problems.length;
      if (!isAbsolute(w.path)) problems.push(`${origin}.path: ${JSON.stringify(w.path)} is not an absolute path (the loader resolves relative paths; this is a bug)`);
      let target: string | undefined;
      if (isSyncAction(w.action)) {
        if (w.target === undefined || w.target === "") problems.push(`${origin}.target: missing; action "${w.action}" copies files into the container and needs the container path to copy them to (e.g. target: /app)`);
        else if (!w.target.startsWith("/")) problems.push(`${origin}.target: ${JSON.stringify(w.target)} is not an absolute container path; write it from the container's root, e.g. /app/${w.target}`);
        else target = posix.normalize(w.target);
      }
      if (w.action === "sync+exec" && (w.exec === undefined || w.exec.command.length === 0)) {
        problems.push(`${origin}.exec.command: missing; action "sync+exec" runs a command in the container after each sync (e.g. exec: {command: "kill -HUP 1"})`);
      }
      if (w.action === "rebuild" && service.build === undefined) {
        problems.push(`${origin}: action "rebuild" needs services.${name}.build, and the service only has image ${JSON.stringify(service.image ?? "")}; add a build: section or use action "restart"`);
      }
      let filter: PathFilter | undefined;
      try {
        filter = compilePathFilter({ path: w.path, ignore: w.ignore, include: w.include, buildIgnore, origin });
      } catch (e) {
        problems.push((e as Error).message);
      }
      if (problems.length > before || filter === undefined) return;
      const rule: CompiledRule = { service: name, origin, action: w.action, path: w.path, initialSync: w.initial_sync, filter, sharedHostDirs: [], hiddenTargets: [] };
      if (target !== undefined) {
        rule.target = target;
        const overlap = mountOverlap(service, { path: w.path, target });
        if (overlap.blocked !== undefined) rule.syncBlocked = overlap.blocked;
        rule.sharedHostDirs = overlap.sharedHostDirs;
        rule.hiddenTargets = overlap.hiddenTargets;
        for (const m of overlap.notices) notices.push({ service: name, message: `${origin}: ${m}` });
      }
      if (w.exec !== undefined) rule.exec = w.exec;
      rules.push(rule);
    });
  }

  if (problems.length > 0) {
    throw new InvalidInputError(problems.length === 1 ? problems[0]! : `${problems.length} problems in develop.watch rules: ${problems[0]}`, {
      problems,
      hint: "see docs/watch.md for the rule syntax",
    });
  }
  if (rules.length === 0) {
    throw new InvalidInputError(`nothing to watch: none of the services ${selected.join(", ")} has develop.watch rules`, {
      hint: options.rebuildOnChange
        ? "add develop.watch rules (docs/watch.md); --rebuild-on-change only covers services with a local build: and no develop section"
        : "add develop.watch rules to a service (docs/watch.md), or pass --rebuild-on-change to rebuild services with build: on any change in their context",
    });
  }
  return { rules, notices };
}
