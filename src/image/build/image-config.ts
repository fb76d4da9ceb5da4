// What the metadata instructions do to the image config (pure): ENV, LABEL,
// EXPOSE, USER, WORKDIR, VOLUME, CMD, ENTRYPOINT, HEALTHCHECK, STOPSIGNAL,
// SHELL, ONBUILD, MAINTAINER. Also how a command in shell form becomes argv.
import { InvalidInputError } from "../../errors.js";
import type { CommandLine, Instruction } from "../dockerfile/instructions.js";
import type { OciImageConfig } from "../store/oci-types.js";

export const DEFAULT_SHELL = ["/bin/sh", "-c"];

export function argvOf(command: CommandLine, shell: string[] | undefined): string[] {
  return command.form === "exec" ? command.argv : [...(shell && shell.length > 0 ? shell : DEFAULT_SHELL), command.command];
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration ("1m30s", "500ms") in nanoseconds. */
export function durationNs(value: string): number {
  if (value === "0") return 0;
  let total = 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(value))) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed !== value.length) throw new InvalidInputError(`${JSON.stringify(value)} is not a duration`, { hint: "write a duration such as 30s or 1m30s" });
  return Math.round(total);
}

function setEnv(env: string[], key: string, value: string): string[] {
  const out = env.filter((e) => e.split("=")[0] !== key);
  const i = env.findIndex((e) => e.split("=")[0] === key);
  if (i >= 0) {
    const copy = [...env];
    copy[i] = `${key}=${value}`;
    return copy;
  }
  return [...out, `${key}=${value}`];
}

/** EXPOSE words: "80", "80/udp", "8000-8002/tcp" → "80/tcp" … */
export function exposedPorts(ports: string[], where: string): string[] {
  const out: string[] = [];
  for (const p of ports) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
    if (!m) throw new InvalidInputError(`${where}: invalid port ${JSON.stringify(p)} in EXPOSE`, { hint: "write PORT, PORT/udp or FIRST-LAST" });
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first || last > 65535) throw new InvalidInputError(`${where}: invalid port range ${JSON.stringify(p)} in EXPOSE`);
    for (let n = first; n <= last; n++) out.push(`${n}/${(m[3] ?? "tcp").toLowerCase()}`);
  }
  return out;
}

/** The config after a metadata instruction. `where` ("Dockerfile:7") names it in errors; `author` carries MAINTAINER. */
export function applyInstruction(config: OciImageConfig, ins: Instruction, where: string): { config: OciImageConfig; author?: string } {
  const c: OciImageConfig = structuredClone(config);
  switch (ins.kind) {
    case "env":
      for (const p of ins.pairs) c.Env = setEnv(c.Env ?? [], p.key, p.value);
      break;
    case "label":
      c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(ins.pairs.map((p) => [p.key, p.value])) };
      break;
    case "expose":
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const p of exposedPorts(ins.ports, where)) c.ExposedPorts[p] = {};
      break;
    case "user":
      c.User = ins.value;
      break;
    case "workdir": {
      const dir = ins.value.startsWith("/") ? ins.value : `${c.WorkingDir || "/"}/${ins.value}`;
      c.WorkingDir = dir.replace(/\/+/g, "/").replace(/(.)\/$/, "$1");
      break;
    }
    case "volume":
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const v of ins.paths) c.Volumes[v] = {};
      break;
    case "cmd":
      c.Cmd = argvOf(ins.command, c.Shell);
      break;
    case "entrypoint":
      c.Entrypoint = argvOf(ins.command, c.Shell);
      break;
    case "stopsignal":
      c.StopSignal = ins.value;
      break;
    case "shell":
      c.Shell = ins.argv;
      break;
    case "onbuild":
      c.OnBuild = [...(c.OnBuild ?? []), ins.trigger];
      break;
    case "healthcheck":
      if (ins.test === "none") c.Healthcheck = { Test: ["NONE"] };
      else {
        c.Healthcheck = { Test: ins.test.form === "exec" ? ["CMD", ...ins.test.argv] : ["CMD-SHELL", ins.test.command] };
        if (ins.interval !== undefined) c.Healthcheck.Interval = durationNs(ins.interval);
        if (ins.timeout !== undefined) c.Healthcheck.Timeout = durationNs(ins.timeout);
        if (ins.startPeriod !== undefined) c.Healthcheck.StartPeriod = durationNs(ins.startPeriod);
        if (ins.startInterval !== undefined) c.Healthcheck.StartInterval = durationNs(ins.startInterval);
        if (ins.retries !== undefined) c.Healthcheck.Retries = ins.retries;
      }
      break;
    case "maintainer":
      return { config: c, author: ins.value };
    default:
      break;
  }
  return { config: c };
}

/** The instruction as Docker shows it in history and progress ("RUN /bin/sh -c make"). */
export function describeInstruction(ins: Instruction): string {
  const flags = (list: Array<[string, string | boolean | undefined]>) =>
    list.flatMap(([k, v]) => (v === undefined || v === false ? [] : [v === true ? `--${k}` : `--${k}=${v}`])).join(" ");
  const withFlags = (name: string, f: string, rest: string) => [name, f, rest].filter((s) => s !== "").join(" ");
  switch (ins.kind) {
    case "from":
      return `FROM ${ins.image}${ins.stageName ? ` AS ${ins.stageName}` : ""}`;
    case "run":
      return withFlags("RUN", flags([...ins.mounts.map((m): [string, string] => ["mount", m]), ["network", ins.network]]), ins.command.form === "exec" ? JSON.stringify(ins.command.argv) : ins.command.command);
    case "cmd":
    case "entrypoint":
      return `${ins.kind.toUpperCase()} ${ins.command.form === "exec" ? JSON.stringify(ins.command.argv) : ins.command.command}`;
    case "shell":
      return `SHELL ${JSON.stringify(ins.argv)}`;
    case "copy":
    case "add":
      return withFlags(ins.kind.toUpperCase(), flags([["from", ins.from], ["chown", ins.chown], ["chmod", ins.chmod], ["parents", ins.parents]]), [...ins.sources, ins.dest].join(" "));
    case "env":
    case "label":
      return `${ins.kind.toUpperCase()} ${ins.pairs.map((p) => `${p.key}=${p.value}`).join(" ")}`;
    case "arg":
      return `ARG ${ins.args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)).join(" ")}`;
    case "expose":
      return `EXPOSE ${ins.ports.join(" ")}`;
    case "volume":
      return `VOLUME ${JSON.stringify(ins.paths)}`;
    case "user":
    case "workdir":
    case "stopsignal":
    case "maintainer":
      return `${ins.kind.toUpperCase()} ${ins.value}`;
    case "healthcheck":
      return ins.test === "none" ? "HEALTHCHECK NONE" : `HEALTHCHECK CMD ${ins.test.form === "exec" ? JSON.stringify(ins.test.argv) : ins.test.command}`;
    case "onbuild":
      return `ONBUILD ${ins.trigger}`;
  }
}
