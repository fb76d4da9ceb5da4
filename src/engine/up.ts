// `stack up`: plan (pure) then execute through the ports. Services start as
// soon as their own dependencies meet their conditions (not level by level),
// so independent chains run in parallel.
import { SystemError, InvalidInputError } from "../errors.js";
import { buildGraph, selectServices, type DependencyEdge, type ServiceGraph } from "../graph/graph.js";
import type { ServiceModel, StackModel } from "../schema/model.js";
import { planUp, type Action, type ActualContainer, type Plan } from "./plan.js";
import type { Clock, ContainerPort, ContainerStatus, ImageInfo, ImagePort, NetworkPort, ProgressSink } from "./ports.js";
import type { ContainerRecord, ProjectState } from "./state.js";

export interface StatePort {
  read(): ProjectState;
  write(state: ProjectState): void;
}

export interface EngineDeps {
  images: ImagePort;
  networks: NetworkPort;
  containers: ContainerPort;
  state: StatePort;
  hash(service: ServiceModel, imageDigest: string): string;
  progress: ProgressSink;
  warn(message: string): void;
  clock: Clock;
}

export interface UpOptions {
  services: string[];
  noDeps?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  removeOrphans?: boolean;
  noStart?: boolean;
  scale?: Record<string, number>;
  dryRun?: boolean;
  /** Called with the plan before anything changes (the CLI draws one progress line per container). */
  onPlan?: (plan: Plan) => void;
  /** Wait for every selected service to be running (healthy when it has a healthcheck; exited 0 for one-shots). */
  wait?: boolean;
  waitTimeoutMs?: number;
  /** How often conditions are polled. */
  pollMs?: number;
}

export interface UpResult {
  plan: Plan;
  graph: ServiceGraph;
  selection: string[];
}

/** Canonical JSON snapshot of a service, stored with its container to explain recreates. */
function snapshot(service: ServiceModel): unknown {
  return JSON.parse(JSON.stringify(service));
}

export async function actualContainers(deps: EngineDeps, state: ProjectState): Promise<ActualContainer[]> {
  const records = Object.values(state.containers).filter((c) => !c.oneOff);
  const statuses = await Promise.all(records.map((r) => deps.containers.status(r.name)));
  return records.map((r, i) => ({
    name: r.name,
    service: r.service,
    index: r.index,
    configHash: r.configHash,
    config: r.config,
    status: toPlanStatus(statuses[i]!),
  }));
}

function toPlanStatus(s: ContainerStatus): ActualContainer["status"] {
  switch (s.state) {
    case "running":
    case "restarting":
      return "running";
    case "paused":
      return "paused";
    case "created":
      return "created";
    default:
      return "exited";
  }
}

export async function up(deps: EngineDeps, model: StackModel, opts: UpOptions): Promise<UpResult> {
  const graph = buildGraph(model);
  for (const w of graph.warnings) deps.warn(w);
  const selection = selectServices(graph, opts.services, opts.noDeps);
  for (const [svc, n] of Object.entries(opts.scale ?? {})) {
    if (!(svc in model.services)) throw new InvalidInputError(`--scale: no such service: "${svc}"`, { hint: `services are: ${graph.nodes.join(", ")}` });
    if (!Number.isInteger(n) || n < 0) throw new InvalidInputError(`--scale ${svc}=${n}: the number of replicas must be a whole number >= 0`);
  }

  // The networks to make are read for (routes, firewall) while images are looked at and the plan is made.
  if (!opts.dryRun) deps.networks.prepare?.(model, selection);

  // Images first: a missing image fails before anything changes.
  const images = new Map<string, ImageInfo>();
  for (const name of selection) {
    const service = model.services[name]!;
    // A service that runs an image another service builds (`image:` only, same name) gets it built, never pulled.
    const builder = service.build || !service.image ? undefined : Object.values(model.services).find((o) => o.build && o.image === service.image);
    images.set(name, await deps.images.ensure(builder ?? service));
  }
  const hashes: Record<string, string> = {};
  for (const name of selection) hashes[name] = deps.hash(model.services[name]!, images.get(name)!.digest);

  const state = deps.state.read();
  const actual = await actualContainers(deps, state);
  const plan = planUp(model, graph, actual, {
    selection,
    forceRecreate: opts.forceRecreate,
    noRecreate: opts.noRecreate,
    removeOrphans: opts.removeOrphans,
    noStart: opts.noStart,
    scale: opts.scale,
    hashes,
  });
  if (plan.orphans.length > 0) {
    deps.warn(`found orphan containers (${plan.orphans.join(", ")}) for this project; run with --remove-orphans to remove them`);
  }
  if (opts.dryRun) return { plan, graph, selection };
  opts.onPlan?.(plan);

  state.project = model.name;
  state.projectDir = model.project_dir;
  state.files = model.files;

  // Networks (and the published-port check) before anything changes; then removals (orphans, scale-down), as Compose does.
  await deps.networks.ensure(model, selection);
  for (const a of plan.actions.filter((x) => x.kind === "remove")) await removeContainer(deps, state, a.service, a.name);

  const done = new Map<string, Promise<void>>();
  const runService = (name: string): Promise<void> => {
    let p = done.get(name);
    if (p) return p;
    p = (async () => {
      const edges = graph.edges.filter((e) => e.from === name && selection.includes(e.to));
      await Promise.all(edges.map(async (e) => {
        await runService(e.to);
        if (!opts.noStart) await waitForCondition(deps, model, state, e, opts.pollMs ?? 200);
      }));
      const actions = plan.actions.filter((a) => a.service === name && a.kind !== "remove");
      await Promise.all(actions.map((a) => applyAction(deps, model, state, a, images.get(name)!, hashes[name]!, opts)));
    })();
    done.set(name, p);
    return p;
  };
  try {
    await Promise.all(selection.map(runService));
    // What ensure() left running (the firewall) is complete before up returns, with or without containers started.
    await deps.networks.ready?.();
  } finally {
    deps.state.write(state);
    await deps.networks.ready?.().catch(() => undefined);
  }

  if (opts.wait && !opts.noStart) await waitForServices(deps, model, state, selection, opts);
  return { plan, graph, selection };
}

async function removeContainer(deps: EngineDeps, state: ProjectState, service: string, name: string): Promise<void> {
  deps.progress({ service, container: name, phase: "stopping" });
  await deps.containers.stop(name);
  await deps.containers.remove(name, { volumes: false });
  delete state.containers[name];
  deps.state.write(state);
  deps.progress({ service, container: name, phase: "removed" });
}

async function applyAction(deps: EngineDeps, model: StackModel, state: ProjectState, a: Action, image: ImageInfo, hash: string, opts: UpOptions): Promise<void> {
  const service = model.services[a.service]!;
  const t0 = deps.clock.now();
  const create = async (phase: "creating" | "recreating") => {
    deps.progress({ service: a.service, container: a.name, phase });
    const { id, command } = await deps.containers.create({ project: model, service, index: a.index, name: a.name, image, configHash: hash });
    const record: ContainerRecord = {
      name: a.name,
      id,
      service: a.service,
      index: a.index,
      configHash: hash,
      config: snapshot(service),
      image: { ref: image.ref, digest: image.digest },
      createdAt: new Date(deps.clock.now()).toISOString(),
      ...(command ? { command } : {}),
    };
    state.containers[a.name] = record;
    deps.state.write(state);
  };
  const start = async () => {
    if (opts.noStart) return;
    deps.progress({ service: a.service, container: a.name, phase: "starting" });
    await deps.containers.start(a.name);
    deps.progress({ service: a.service, container: a.name, phase: "started", elapsedMs: deps.clock.now() - t0 });
  };
  switch (a.kind) {
    case "create":
      await create("creating");
      await start();
      return;
    case "recreate":
      deps.progress({ service: a.service, container: a.name, phase: "recreating", detail: `changed: ${a.changes.join(", ")}` });
      await deps.containers.stop(a.name);
      await deps.containers.remove(a.name, { volumes: false });
      delete state.containers[a.name];
      await create("recreating");
      await start();
      return;
    case "start":
      await start();
      return;
    case "restart":
      deps.progress({ service: a.service, container: a.name, phase: "stopping", detail: `restart: ${a.because} was recreated` });
      await deps.containers.stop(a.name);
      await start();
      return;
    case "keep":
      deps.progress({ service: a.service, container: a.name, phase: "running" });
      return;
    case "remove":
      return; // done before the others
  }
}

function containersOf(state: ProjectState, service: string): ContainerRecord[] {
  return Object.values(state.containers)
    .filter((c) => c.service === service && !c.oneOff)
    .sort((a, b) => a.index - b.index);
}

async function describeFailure(deps: EngineDeps, status: ContainerStatus, what: string): Promise<SystemError> {
  const lines = [`dependency failed: service "${status.service}" ${what}`];
  if (status.healthLog && status.healthLog.length > 0) lines.push(`  last health check output: ${status.healthLog[status.healthLog.length - 1]!.trim()}`);
  const logs = await deps.containers.lastLogLines(status.name, 10).catch(() => []);
  if (logs.length > 0) lines.push(`  last log lines of ${status.name}:`, ...logs.map((l) => `    ${l}`));
  return new SystemError(lines.join("\n"), { hint: `see \`stack logs ${status.service}\` and \`stack ps -a\`` });
}

/** Resolves when every container of `edge.to` meets the edge's condition; fails clearly when it never will. */
async function waitForCondition(deps: EngineDeps, model: StackModel, state: ProjectState, edge: DependencyEdge, pollMs: number): Promise<void> {
  const target = model.services[edge.to]!;
  const containers = containersOf(state, edge.to);
  if (edge.condition === "service_healthy" && (!target.healthcheck || target.healthcheck.disable || target.healthcheck.test[0] === "NONE")) {
    throw new InvalidInputError(`service "${edge.from}" waits for "${edge.to}" to be healthy, but "${edge.to}" has no healthcheck`, {
      hint: `add a healthcheck to services.${edge.to}, or use condition: service_started`,
    });
  }
  await Promise.all(containers.map(async (c) => {
    for (;;) {
      const s = await deps.containers.status(c.name);
      switch (edge.condition) {
        case "service_started":
          if (s.state !== "created" && s.state !== "missing") return;
          break;
        case "service_healthy":
          if (s.health === "healthy") {
            deps.progress({ service: edge.to, container: c.name, phase: "healthy" });
            return;
          }
          if (s.health === "unhealthy") throw await describeFailure(deps, s, "is unhealthy");
          if (s.state === "exited" || s.state === "missing") throw await describeFailure(deps, s, `exited (${s.exitCode ?? "?"}) before it became healthy`);
          break;
        case "service_completed_successfully":
          if (s.state === "exited" || s.state === "missing") {
            if (s.exitCode === 0) {
              deps.progress({ service: edge.to, container: c.name, phase: "exited", detail: "completed successfully" });
              return;
            }
            throw await describeFailure(deps, s, `didn't complete successfully: exit ${s.exitCode ?? "?"}${s.oomKilled ? " (OOM killed)" : ""}`);
          }
          break;
      }
      deps.progress({ service: edge.to, container: c.name, phase: "waiting" });
      await deps.clock.sleep(pollMs);
    }
  }));
}

/** `up --wait`: every selected service running (healthy if it has a healthcheck); a one-shot that exited 0 counts as done. */
async function waitForServices(deps: EngineDeps, model: StackModel, state: ProjectState, selection: string[], opts: UpOptions): Promise<void> {
  const deadline = opts.waitTimeoutMs ? deps.clock.now() + opts.waitTimeoutMs : Infinity;
  const pollMs = opts.pollMs ?? 200;
  await Promise.all(selection.flatMap((name) => containersOf(state, name).map(async (c) => {
    const svc = model.services[name]!;
    const hasCheck = !!svc.healthcheck && !svc.healthcheck.disable && svc.healthcheck.test[0] !== "NONE";
    for (;;) {
      const s = await deps.containers.status(c.name);
      if (s.state === "exited" || s.state === "missing") {
        if (s.exitCode === 0) return;
        throw await describeFailure(deps, s, `exited with code ${s.exitCode ?? "?"}${s.oomKilled ? " (OOM killed)" : ""}`);
      }
      if (s.state === "running" && (!hasCheck || s.health === "healthy")) return;
      if (s.health === "unhealthy") throw await describeFailure(deps, s, "is unhealthy");
      if (deps.clock.now() > deadline) {
        throw new SystemError(`timed out after ${opts.waitTimeoutMs} ms waiting for service "${name}" (${s.state}${s.health ? `, ${s.health}` : ""})`, {
          hint: `see \`stack logs ${name}\`; raise --wait-timeout if it is just slow`,
        });
      }
      await deps.clock.sleep(pollMs);
    }
  })));
}
