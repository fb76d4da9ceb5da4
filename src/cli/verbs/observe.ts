// The verbs that look without changing anything: ps, logs, top, port, ls.
import { InvalidInputError } from "../../errors.js";
import type { ServiceModel } from "../../schema/model.js";
import type { CliContext } from "../context.js";
import { containersOf, openSession, selectContainers, sessionModel } from "../engine-session.js";
import { LogFormatter, logPrefix, useColor } from "../log-format.js";

export interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  services?: boolean;
  status?: string[];
  format?: string;
  filter?: string;
}

const STATES = ["paused", "restarting", "removing", "running", "dead", "created", "exited"];

function commandText(service: ServiceModel): string {
  const words = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  return [...words(service.entrypoint), ...words(service.command)].join(" ");
}

export async function runPs(ctx: CliContext, services: string[], flags: PsFlags): Promise<void> {
  const format = flags.format ?? "table";
  if (format !== "table" && format !== "json") throw new InvalidInputError(`--format: ${JSON.stringify(format)} is not table or json`, { hint: "use --format table or --format json" });
  for (const s of flags.status ?? []) {
    if (!STATES.includes(s)) throw new InvalidInputError(`--status: ${JSON.stringify(s)} is not a container state`, { hint: `use one of ${STATES.join(", ")}` });
  }
  // Read-only: the model, the state files and one supervisor query; no engine, lock or progress renderer.
  // One cold pass, then exit: V8 set as for `stack config` (src/fs/v8-tuning.ts says why; the
  // young generation's flag after the stack file's stages are compiled with their code cache).
  const tune = await import("../../fs/v8-tuning.js");
  tune.turnOptimizerOff();
  // ps's own modules are read while the stack file loads.
  const modules = Promise.all([import("../../engine/ps.js"), import("../../engine/state.js"), import("../../engine/status-reader.js")]);
  modules.catch(() => undefined); // awaited below; a failed load must not surface as unhandled before
  const model = await sessionModel(ctx);
  tune.keepYoungGenerationSmall();
  const [{ psRow, renderPsTable }, { readProjectState }, { readProjectStatus }] = await modules;
  const state = readProjectState(ctx.stateDir, model.name);
  const names = await selectContainers(state, model, services);
  const { statuses, watched } = await readProjectStatus({ project: model.name, stateDir: ctx.stateDir, runDir: ctx.runDir }, state, names.map((n) => n.name));
  const now = Date.now();
  const record = (name: string) => state.containers[name]!;
  let rows = statuses.map((s) => {
    const r = record(s.name);
    return psRow(r, s, r.command ? r.command.join(" ") : commandText(r.config as ServiceModel), now, watched.has(r.service));
  });
  if (flags.status && flags.status.length > 0) rows = rows.filter((r) => flags.status!.includes(r.State));
  else if (!flags.all) rows = rows.filter((r) => r.State === "running" || r.State === "restarting" || r.State === "paused");
  if (flags.services) {
    ctx.stdout.write([...new Set(rows.map((r) => r.Service))].sort().map((s) => `${s}\n`).join(""));
    return;
  }
  if (flags.quiet) {
    ctx.stdout.write(rows.map((r) => `${record(r.Name).id}\n`).join(""));
    return;
  }
  if (format === "json") ctx.stdout.write(rows.map((r) => JSON.stringify({ ID: record(r.Name).id, Project: model.name, ...r }) + "\n").join(""));
  else ctx.stdout.write(renderPsTable(rows));
}

export interface LogsFlags {
  follow?: boolean;
  timestamps?: boolean;
  tail?: string;
  since?: string;
  until?: string;
  color?: boolean;
  logPrefix?: boolean;
  index?: string;
}

export async function runLogs(ctx: CliContext, services: string[], flags: LogsFlags): Promise<void> {
  const { parseTimeBound } = await import("../../supervisor/log-query.js");
  const now = Date.now();
  let tail: number | undefined;
  if (flags.tail !== undefined && flags.tail !== "all") {
    if (!/^\d+$/.test(flags.tail)) throw new InvalidInputError(`--tail: ${JSON.stringify(flags.tail)} is not a number of lines`, { hint: "use a number, or all" });
    tail = Number(flags.tail);
  }
  let index: number | undefined;
  if (flags.index !== undefined) {
    if (!/^[1-9]\d*$/.test(flags.index)) throw new InvalidInputError(`--index: ${JSON.stringify(flags.index)} is not a replica number`, { hint: "replicas count from 1" });
    index = Number(flags.index);
  }
  const since = flags.since !== undefined ? parseTimeBound(flags.since, now, "--since") : undefined;
  const until = flags.until !== undefined ? parseTimeBound(flags.until, now, "--until") : undefined;
  const session = await openSession(ctx, { services });
  try {
    const names = await containersOf(session, services, true);
    const color = useColor({ noColor: flags.color === false, ansi: ctx.globals.ansi, isTty: (ctx.stdout as NodeJS.WriteStream).isTTY === true, env: ctx.env });
    const formatter = new LogFormatter(Object.keys(session.model.services), { color, prefix: flags.logPrefix !== false, timestamps: !!flags.timestamps }, names.map((n) => logPrefix(n)));
    const sup = await session.engine.supervisor();
    const wanted = services.length > 0 ? services : undefined;
    for await (const line of sup.logs({ ...(wanted ? { services: wanted } : {}), follow: !!flags.follow, ...(tail !== undefined ? { tail } : {}), ...(since ? { since } : {}), ...(until ? { until } : {}) })) {
      if (index !== undefined && line.index !== index) continue;
      ctx.stdout.write(formatter.format(line));
    }
  } finally {
    await session.close();
  }
}

export async function runTop(ctx: CliContext, services: string[]): Promise<void> {
  const session = await openSession(ctx, { services });
  try {
    const names = await containersOf(session, services);
    const statuses = await session.engine.statusOf(names.map((n) => n.name));
    for (const s of statuses.filter((x) => x.state === "running" || x.state === "paused")) {
      ctx.stdout.write(`${s.name}\n${"UID".padEnd(8)}${"PID".padEnd(10)}${"PPID".padEnd(10)}CMD\n`);
      for (const p of session.engine.runtime.processes(session.engine.handleOf(s.name))) {
        ctx.stdout.write(`${String(p.uid).padEnd(8)}${String(p.pid).padEnd(10)}${String(p.ppid).padEnd(10)}${p.command}\n`);
      }
      ctx.stdout.write("\n");
    }
  } finally {
    await session.close();
  }
}

export async function runPort(ctx: CliContext, service: string, privatePort: string, flags: { protocol?: string; index?: string }): Promise<void> {
  const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(privatePort);
  if (!m) throw new InvalidInputError(`${JSON.stringify(privatePort)} is not a port`, { hint: "for example: stack port web 80" });
  const protocol = (flags.protocol ?? m[2] ?? "tcp") as "tcp" | "udp";
  if (protocol !== "tcp" && protocol !== "udp") throw new InvalidInputError(`--protocol: ${JSON.stringify(protocol)} is not tcp or udp`, { hint: "use --protocol tcp or --protocol udp" });
  const index = flags.index === undefined ? 1 : Number(flags.index);
  const session = await openSession(ctx, { services: [service] });
  try {
    const { lookupPublishedPort } = await import("../../network/ports.js");
    if (!(service in session.model.services)) throw new InvalidInputError(`no such service: ${JSON.stringify(service)}`, { hint: `services are: ${Object.keys(session.model.services).sort().join(", ")}` });
    const container = (await containersOf(session, [service])).find((c) => c.index === index)?.name;
    const ports = session.engine.network.readState(session.model.name).ports;
    const p = lookupPublishedPort(ports, { service, target: Number(m[1]), protocol, ...(container ? { container } : {}) });
    if (!p) throw new InvalidInputError(`service ${service} does not publish ${m[1]}/${protocol}`, { hint: "see `stack ps` for the published ports" });
    ctx.stdout.write(`${p.hostIp}:${p.hostPort}\n`);
  } finally {
    await session.close();
  }
}

/** `stack ls`: every project with recorded containers, and how many run. */
export async function runLs(ctx: CliContext, flags: { all?: boolean; quiet?: boolean; format?: string }): Promise<void> {
  const { listProjects, readProjectState } = await import("../../engine/state.js");
  const { openSessionFor } = await import("../engine-session.js");
  const rows: Array<{ Name: string; Status: string; ConfigFiles: string }> = [];
  for (const project of listProjects(ctx.stateDir)) {
    const state = readProjectState(ctx.stateDir, project);
    const names = Object.keys(state.containers);
    if (names.length === 0) continue;
    const model = { name: project } as Parameters<typeof openSessionFor>[1];
    const session = await openSessionFor({ ...ctx, globals: { ...ctx.globals, progress: "quiet" } }, model);
    try {
      const statuses = await session.engine.statusOf(names);
      const counts = new Map<string, number>();
      for (const s of statuses) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
      const status = [...counts.entries()].sort().map(([k, v]) => `${k}(${v})`).join(", ");
      if (!flags.all && !counts.has("running")) continue;
      rows.push({ Name: project, Status: status, ConfigFiles: state.files.join(",") });
    } finally {
      await session.close();
    }
  }
  if (flags.quiet) ctx.stdout.write(rows.map((r) => `${r.Name}\n`).join(""));
  else if (flags.format === "json") ctx.stdout.write(JSON.stringify(rows) + "\n");
  else {
    const w = Math.max(4, ...rows.map((r) => r.Name.length)) + 3;
    const s = Math.max(6, ...rows.map((r) => r.Status.length)) + 3;
    ctx.stdout.write(`${"NAME".padEnd(w)}${"STATUS".padEnd(s)}CONFIG FILES\n` + rows.map((r) => `${r.Name.padEnd(w)}${r.Status.padEnd(s)}${r.ConfigFiles}\n`).join(""));
  }
}

/** Human byte sizes as docker stats prints them (binary units). */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(2)}${units[i]}`;
}

/** `stack stats`: CPU %, memory, PIDs and block I/O per running container, from its cgroup; refreshed every second unless --no-stream. */
export async function runStats(ctx: CliContext, services: string[], flags: { stream?: boolean; format?: string }): Promise<void> {
  const format = flags.format ?? "table";
  if (format !== "table" && format !== "json") throw new InvalidInputError(`--format: ${JSON.stringify(format)} is not table or json`, { hint: "use --format table or --format json" });
  const session = await openSession(ctx, { services });
  try {
    const names = await containersOf(session, services);
    const sample = () => {
      const at = process.hrtime.bigint();
      return new Map(names.flatMap((n) => {
        try {
          return [[n.name, { at, s: session.engine.runtime.stats(session.engine.handleOf(n.name)) }] as const];
        } catch {
          return [];
        }
      }));
    };
    let previous = sample();
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const current = sample();
      const rows = [...current.entries()].map(([name, { at, s }]) => {
        const before = previous.get(name);
        const cpu = before ? (100 * (s.cpuUsageNs - before.s.cpuUsageNs)) / Number(at - before.at) : 0;
        return { Name: name, CPUPerc: `${Math.max(0, cpu).toFixed(2)}%`, MemUsage: `${formatBytes(s.memoryUsage)} / ${s.memoryLimit ? formatBytes(s.memoryLimit) : "unlimited"}`, PIDs: s.pids, BlockIO: `${formatBytes(s.blkioReadBytes)} / ${formatBytes(s.blkioWriteBytes)}` };
      }).filter((r) => r.PIDs > 0);
      if (format === "json") ctx.stdout.write(rows.map((r) => JSON.stringify(r) + "\n").join(""));
      else {
        const header = ["NAME", "CPU %", "MEM USAGE / LIMIT", "PIDS", "BLOCK I/O"];
        const cells = rows.map((r) => [r.Name, r.CPUPerc, r.MemUsage, String(r.PIDs), r.BlockIO]);
        const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
        const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]! + 3)).join("").trimEnd();
        if (flags.stream !== false && (ctx.stdout as NodeJS.WriteStream).isTTY) ctx.stdout.write("\u001b[2J\u001b[H");
        ctx.stdout.write([line(header), ...cells.map(line)].join("\n") + "\n");
      }
      if (flags.stream === false) return;
      previous = current;
    }
  } finally {
    await session.close();
  }
}
