// `stack exec` (a command in a running service container) and `stack run` (a
// one-off container of a service, attached to the caller's terminal).
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { ConflictError, InvalidInputError } from "../../errors.js";
import type { PortModel, ServiceModel, ServiceVolumeModel, StackModel } from "../../schema/model.js";
import type { CliContext } from "../context.js";
import { containersOf, openSession, openSessionFor } from "../engine-session.js";

export interface ExecFlags {
  detach?: boolean;
  tty?: boolean; // false with -T
  user?: string;
  workdir?: string;
  env?: string[];
  index?: string;
  privileged?: boolean;
}

export function parseEnvFlags(values: string[], ctxEnv: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq === 0) throw new InvalidInputError(`-e ${JSON.stringify(v)}: the variable has no name`, { hint: "use -e NAME=value, or -e NAME to pass the value from your shell" });
    if (eq < 0) {
      const value = ctxEnv[v];
      if (value !== undefined) out[v] = value;
    } else {
      out[v.slice(0, eq)] = v.slice(eq + 1);
    }
  }
  return out;
}

function isTty(stream: NodeJS.ReadableStream | NodeJS.WritableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

export async function runExec(ctx: CliContext, service: string, argv: string[], flags: ExecFlags): Promise<number> {
  if (argv.length === 0) throw new InvalidInputError("exec needs a command to run", { hint: `for example: stack exec ${service} sh` });
  const index = flags.index === undefined ? 1 : Number(flags.index);
  if (!Number.isInteger(index) || index < 1) throw new InvalidInputError(`--index: ${JSON.stringify(flags.index)} is not a replica number`, { hint: "replicas count from 1" });
  const session = await openSession(ctx, { services: [service] });
  try {
    const container = (await containersOf(session, [service])).find((c) => c.index === index);
    if (!container) throw new ConflictError(`service ${JSON.stringify(service)} has no container ${index}`, { hint: "start it with `stack up -d`" });
    const [st] = await session.engine.statusOf([container.name]);
    if (st!.state !== "running") throw new ConflictError(`container ${container.name} is not running (${st!.state})`, { hint: `start it with \`stack start ${service}\`` });
    const h = session.engine.handleOf(container.name);
    const options = {
      ...(flags.user ? { user: flags.user } : {}),
      ...(flags.workdir ? { cwd: flags.workdir } : {}),
      ...(flags.privileged ? { privileged: true } : {}),
      env: parseEnvFlags(flags.env ?? [], ctx.env),
      tty: flags.tty !== false && isTty(process.stdin) && isTty(ctx.stdout),
    };
    if (flags.detach) {
      session.engine.runtime.execDetached(h, argv, options);
      return 0;
    }
    return await session.engine.runtime.execInteractive(h, argv, options);
  } finally {
    await session.close();
  }
}

export interface RunFlags extends ExecFlags {
  rm?: boolean;
  name?: string;
  entrypoint?: string;
  volume?: string[];
  publish?: string[];
  servicePorts?: boolean;
  deps?: boolean;
  label?: string[];
  build?: boolean;
}

/** `-v SRC:DST[:ro]` and `-p [[IP:]HOST:]CONTAINER[/PROTO]`, the short forms `run` accepts. */
export function parseRunVolume(value: string, projectDir: string, home = process.env.HOME): ServiceVolumeModel {
  const parts = value.split(":");
  if (parts.length < 2 || parts.length > 3 || !parts[1]!.startsWith("/")) {
    throw new InvalidInputError(`-v ${JSON.stringify(value)}: expected SOURCE:/container/path[:ro]`, { hint: "for example -v ./data:/data:ro" });
  }
  const [source, target, mode] = parts as [string, string, string | undefined];
  if (mode !== undefined && mode !== "ro" && mode !== "rw") throw new InvalidInputError(`-v ${JSON.stringify(value)}: mode ${JSON.stringify(mode)} is not ro or rw`, { hint: "use :ro or :rw" });
  const isPath = source.startsWith("/") || source.startsWith(".") || source.startsWith("~");
  const resolved = isPath ? resolve(projectDir, source.replace(/^~(?=\/|$)/, home ?? "~")) : source;
  return {
    type: isPath ? "bind" : "volume",
    source: resolved,
    target,
    read_only: mode === "ro",
    ...(isPath ? { bind: { create_host_path: true } } : { volume: { nocopy: false } }),
  } as ServiceVolumeModel;
}

export function parseRunPort(value: string): PortModel {
  const m = /^(?:(?:(\d+\.\d+\.\d+\.\d+):)?(\d+)?:)?(\d+)(?:\/(tcp|udp))?$/.exec(value);
  if (!m) throw new InvalidInputError(`-p ${JSON.stringify(value)}: expected [[IP:]HOST:]CONTAINER[/tcp|udp]`, { hint: "for example -p 8080:80" });
  return {
    target: Number(m[3]),
    ...(m[2] ? { published: m[2] } : {}),
    ...(m[1] ? { host_ip: m[1] } : {}),
    protocol: (m[4] ?? "tcp") as "tcp" | "udp",
    mode: "ingress",
  } as PortModel;
}

/**
 * How a supervisor serving a warm `stack run` (src/supervisor/run-host.ts)
 * hosts the same verb: with the model it loaded to check the project is its
 * own, and the runtime's `run` started with pipes to its client instead of
 * this process's stdio.
 */
export interface RunHosting {
  model: StackModel;
  /** Starts `argv` (the runtime's `run` of the container; `killInit` kills its init); resolves with its exit code. */
  run(argv: string[], killInit: () => void): Promise<number>;
}

export async function runRun(ctx: CliContext, serviceName: string, argv: string[], flags: RunFlags, hosting?: RunHosting): Promise<number> {
  const sessionOptions = { services: [serviceName], lock: "run", ...(flags.build ? { imageFlags: { build: true } } : {}) };
  const session = hosting ? await openSessionFor(ctx, hosting.model, sessionOptions) : await openSession(ctx, sessionOptions);
  // A foreground --rm container needs no mount on the host (its OCI runtime mounts the overlay), so no perl helper.
  const ephemeral = flags.rm === true && !flags.detach;
  if (!ephemeral) session.engine.runtime.warm();
  let lockHeld = true;
  try {
    const { model, engine } = session;
    const base = model.services[serviceName];
    if (!base) throw new InvalidInputError(`no such service: ${JSON.stringify(serviceName)}`, { hint: `services are: ${Object.keys(model.services).sort().join(", ")}` });
    const tty = flags.tty !== false && isTty(process.stdin) && isTty(ctx.stdout) && !flags.detach;
    const service: ServiceModel = {
      ...base,
      ...(argv.length > 0 ? { command: argv } : {}),
      ...(flags.entrypoint !== undefined ? { entrypoint: flags.entrypoint === "" ? [] : [flags.entrypoint], ...(argv.length > 0 ? {} : { command: [] }) } : {}),
      environment: { ...base.environment, ...parseEnvFlags(flags.env ?? [], ctx.env) },
      volumes: [...base.volumes, ...(flags.volume ?? []).map((v) => parseRunVolume(v, model.project_dir, ctx.env.HOME))],
      ports: flags.servicePorts ? base.ports : (flags.publish ?? []).map(parseRunPort),
      ...(flags.workdir ? { working_dir: flags.workdir } : {}),
      ...(flags.user ? { user: flags.user } : {}),
      ...(flags.privileged ? { privileged: true } : {}),
      restart: "no",
      tty,
      stdin_open: !flags.detach,
      container_name: undefined,
      deploy: base.deploy ? { ...base.deploy, restart_policy: undefined } : base.deploy,
      healthcheck: undefined,
    } as ServiceModel;

    // Dependencies first (not the service itself), as `up` would start them.
    if (flags.deps !== false) {
      const { buildGraph } = await import("../../graph/graph.js");
      const graph = buildGraph(model);
      const deps = graph.edges.filter((e) => e.from === serviceName).map((e) => e.to);
      if (deps.length > 0) {
        const { up } = await import("../../engine/up.js");
        await up(engine, model, { services: deps });
      }
    }
    const image = await engine.images.ensure(service);
    const name = flags.name ?? `${model.name}-${serviceName}-run-${randomBytes(6).toString("hex")}`;
    if (engine.state.read().containers[name]) throw new ConflictError(`a container named ${JSON.stringify(name)} exists already`, { hint: "choose another --name, or remove it with `stack rm`" });
    const { configHash } = await import("../../schema/hash.js");
    const hash = configHash(service, image.digest);
    const { id, command } = await engine.containers.create({ project: model, service, index: 1, name, image, configHash: hash, ...(ephemeral ? { ephemeral } : {}) });
    const state = engine.state.read();
    state.project = model.name;
    state.projectDir = model.project_dir;
    state.files = model.files;
    state.containers[name] = {
      name, id, service: serviceName, index: 1, configHash: hash, config: JSON.parse(JSON.stringify(service)) as unknown,
      image: { ref: image.ref, digest: image.digest }, createdAt: new Date().toISOString(), oneOff: true, ...(command ? { command } : {}),
    };
    // The record must be there before the lock goes (a concurrent up's sweep removes what no record keeps), but
    // a foreground --rm container dies with the OS: its record needs no fsync (~1–20 ms, more when the disk is busy).
    if (ephemeral) engine.writeStateVolatile(state);
    else engine.state.write(state);
    if (flags.detach) {
      await engine.containers.start(name);
      ctx.stdout.write(`${name}\n`);
      return 0;
    }
    // Attached: the container gets our terminal; the project is not locked while it runs.
    await session.close();
    lockHeld = false;
    const handle = engine.handleOf(name);
    const code = await engine.runtime.runForeground(handle, { tty, keep: !flags.rm, ...(hosting ? { run: (a: string[], killInit: () => void) => hosting.run(a, killInit) } : {}) });
    if (flags.rm) {
      // The project lock again, and the same engine: opening another costs a cold run ~5–10 ms
      // (resolv.conf, the runtime's host probes, a progress renderer). Closed once the lock is ours, it
      // forgets the state it read: others changed it while the container ran.
      const { lockProject } = await import("../../engine/lock.js");
      const lock = await lockProject(ctx.runDir, model.name, "run --rm");
      try {
        await engine.close();
        await engine.containers.remove(name, { volumes: true });
        const s = engine.state.read();
        delete s.containers[name];
        if (ephemeral) engine.writeStateVolatile(s);
        else engine.state.write(s);
      } finally {
        await engine.close();
        lock.release();
      }
    }
    return code;
  } finally {
    if (lockHeld) await session.close();
  }
}
