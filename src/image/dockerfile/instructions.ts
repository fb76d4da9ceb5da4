// Typed instructions: the parser's nodes checked against each instruction's
// rules (arguments, allowed flags, forms) and given names. Values are still
// unexpanded here; the build plan substitutes variables. Pure.
import { InvalidInputError } from "../../errors.js";
import { chompHeredoc, type Heredoc } from "./heredoc.js";
import { parseDockerfile, type DockerfileNode, type ParsedDockerfile } from "./parser.js";

type FlagKind = "string" | "bool" | "list";
const flagSpecs: Record<string, Record<string, FlagKind>> = {
  from: { platform: "string" },
  run: { mount: "list", network: "string", security: "string" },
  copy: { from: "string", chown: "string", chmod: "string", link: "bool", parents: "bool", exclude: "list" },
  add: { chown: "string", chmod: "string", link: "bool", parents: "bool", "keep-git-dir": "bool", checksum: "string", exclude: "list", unpack: "bool" },
  healthcheck: { interval: "string", timeout: "string", "start-period": "string", "start-interval": "string", retries: "string" },
};

export interface Flags {
  strings: Record<string, string>;
  bools: Record<string, boolean>;
  lists: Record<string, string[]>;
}

/** A command in shell form (one string run by SHELL) or exec form (argv). */
export type CommandLine = { form: "shell"; command: string } | { form: "exec"; argv: string[] };

export interface KeyValue {
  key: string;
  value: string;
}

interface Base {
  line: number;
  endLine: number;
}

export type Instruction = Base &
  (
    | { kind: "from"; image: string; stageName?: string; platform?: string }
    | { kind: "run"; command: CommandLine; mounts: string[]; network?: string; security?: string; heredocs: Heredoc[] }
    | { kind: "cmd" | "entrypoint"; command: CommandLine }
    | { kind: "shell"; argv: string[] }
    | {
        kind: "copy" | "add";
        sources: string[];
        dest: string;
        from?: string;
        chown?: string;
        chmod?: string;
        link: boolean;
        parents: boolean;
        keepGitDir: boolean;
        unpack?: boolean;
        checksum?: string;
        exclude: string[];
        heredocs: Heredoc[];
      }
    | { kind: "env" | "label"; pairs: KeyValue[] }
    | { kind: "arg"; args: Array<{ key: string; value?: string }> }
    | { kind: "expose"; ports: string[] }
    | { kind: "volume"; paths: string[] }
    | { kind: "user" | "workdir" | "stopsignal" | "maintainer"; value: string }
    | { kind: "healthcheck"; test: "none" | CommandLine; interval?: string; timeout?: string; startPeriod?: string; startInterval?: string; retries?: number }
    | { kind: "onbuild"; trigger: string }
  );

export type InstructionKind = Instruction["kind"];

/** A stage: its FROM and the instructions up to the next FROM. */
export interface StageInstructions {
  from: Extract<Instruction, { kind: "from" }>;
  instructions: Instruction[];
}

export interface DockerfileInstructions {
  /** ARGs before the first FROM (usable only in FROM lines). */
  metaArgs: Array<Extract<Instruction, { kind: "arg" }>>;
  stages: StageInstructions[];
}

class InstructionError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

function parseFlags(node: DockerfileNode): Flags {
  const spec = flagSpecs[node.cmd] ?? {};
  const flags: Flags = { strings: {}, bools: {}, lists: {} };
  const seen = new Set<string>();
  for (const raw of node.flags) {
    if (!raw.startsWith("--")) throw new InstructionError(`flag "${raw}" must start with --`);
    const body = raw.slice(2);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const kind = spec[name];
    if (kind === undefined) {
      const allowed = Object.keys(spec).sort();
      throw new InstructionError(`unknown flag "--${name}" for ${node.cmd.toUpperCase()}`, allowed.length ? `${node.cmd.toUpperCase()} accepts ${allowed.map((f) => `--${f}`).join(", ")}` : `${node.cmd.toUpperCase()} takes no flags`);
    }
    if (kind !== "list" && seen.has(name)) throw new InstructionError(`duplicate flag "--${name}"`);
    seen.add(name);
    if (kind === "bool") {
      if (value === undefined || value.toLowerCase() === "true") flags.bools[name] = true;
      else if (value.toLowerCase() === "false") flags.bools[name] = false;
      else throw new InstructionError(`flag "--${name}": expected true or false, got "${value}"`);
    } else if (value === undefined) {
      throw new InstructionError(`missing a value on flag "--${name}"`, `write --${name}=VALUE`);
    } else if (kind === "list") {
      (flags.lists[name] ??= []).push(value);
    } else flags.strings[name] = value;
  }
  return flags;
}

function commandLine(node: DockerfileNode, args: string[]): CommandLine {
  return node.json ? { form: "exec", argv: args } : { form: "shell", command: args[0] ?? "" };
}

function exactlyOne(node: DockerfileNode): string {
  if (node.args.length !== 1) throw new InstructionError(`${node.cmd.toUpperCase()} requires exactly one argument`);
  return node.args[0]!;
}

function atLeastOne(node: DockerfileNode): void {
  if (node.args.length === 0) throw new InstructionError(`${node.cmd.toUpperCase()} requires at least one argument`);
}

const stageNamePattern = /^[a-z][a-z0-9\-_.]*$/;

function toInstruction(node: DockerfileNode, heredocs: Heredoc[]): Instruction {
  const flags = parseFlags(node);
  const at = { line: node.line, endLine: node.endLine };
  const docs = heredocs.map((h) => (h.chomp ? { ...h, content: chompHeredoc(h.content) } : h));
  switch (node.cmd) {
    case "from": {
      const a = node.args;
      if (a.length !== 1 && a.length !== 3) throw new InstructionError("FROM requires either one or three arguments", "write FROM IMAGE or FROM IMAGE AS NAME");
      if (a.length === 3 && a[1]!.toLowerCase() !== "as") throw new InstructionError(`FROM: expected "AS" as the second word, got "${a[1]}"`, "write FROM IMAGE AS NAME");
      const name = a.length === 3 ? a[2]!.toLowerCase() : undefined;
      if (name !== undefined && !stageNamePattern.test(name)) throw new InstructionError(`invalid name for build stage: "${a[2]}", name can't start with a number or contain symbols`);
      return { ...at, kind: "from", image: a[0]!, ...(name === undefined ? {} : { stageName: name }), ...(flags.strings.platform === undefined ? {} : { platform: flags.strings.platform }) };
    }
    case "run":
      atLeastOne(node);
      return { ...at, kind: "run", command: commandLine(node, node.args), mounts: flags.lists.mount ?? [], network: flags.strings.network, security: flags.strings.security, heredocs: docs };
    case "cmd":
    case "entrypoint":
      return { ...at, kind: node.cmd, command: commandLine(node, node.args) };
    case "shell":
      atLeastOne(node);
      if (!node.json) throw new InstructionError("SHELL requires the arguments to be in JSON form", 'write SHELL ["/bin/sh", "-c"]');
      return { ...at, kind: "shell", argv: node.args };
    case "copy":
    case "add": {
      if (node.args.length < 2) throw new InstructionError(`${node.cmd.toUpperCase()} requires at least two arguments, but only ${node.args.length === 0 ? "none were" : "one was"} provided. Destination could not be determined`, `write ${node.cmd.toUpperCase()} SOURCE... DEST`);
      return {
        ...at,
        kind: node.cmd,
        sources: node.args.slice(0, -1),
        dest: node.args[node.args.length - 1]!,
        from: flags.strings.from,
        chown: flags.strings.chown,
        chmod: flags.strings.chmod,
        link: flags.bools.link ?? false,
        parents: flags.bools.parents ?? false,
        keepGitDir: flags.bools["keep-git-dir"] ?? false,
        ...(flags.bools.unpack === undefined ? {} : { unpack: flags.bools.unpack }),
        checksum: flags.strings.checksum,
        exclude: flags.lists.exclude ?? [],
        heredocs: docs,
      };
    }
    case "env":
    case "label": {
      atLeastOne(node);
      const pairs: KeyValue[] = [];
      for (let i = 0; i + 1 < node.args.length; i += 3) pairs.push({ key: node.args[i]!, value: node.args[i + 1]! });
      return { ...at, kind: node.cmd, pairs };
    }
    case "arg": {
      atLeastOne(node);
      return {
        ...at,
        kind: "arg",
        args: node.args.map((w) => {
          const i = w.indexOf("=");
          return i < 0 ? { key: w } : { key: w.slice(0, i), value: w.slice(i + 1) };
        }),
      };
    }
    case "expose":
      atLeastOne(node);
      return { ...at, kind: "expose", ports: node.args };
    case "volume":
      atLeastOne(node);
      if (node.args.some((p) => p.trim() === "")) throw new InstructionError("VOLUME specified can not be an empty string");
      return { ...at, kind: "volume", paths: node.args };
    case "user":
    case "workdir":
    case "stopsignal":
    case "maintainer":
      return { ...at, kind: node.cmd, value: exactlyOne(node) };
    case "healthcheck": {
      atLeastOne(node);
      const type = node.args[0]!.toUpperCase();
      if (type === "NONE") {
        if (node.args.length > 1 || node.flags.length > 0) throw new InstructionError("HEALTHCHECK NONE takes no arguments");
        return { ...at, kind: "healthcheck", test: "none" };
      }
      if (type !== "CMD") throw new InstructionError(`unknown type "${node.args[0]}" in HEALTHCHECK`, "write HEALTHCHECK CMD … or HEALTHCHECK NONE");
      if (node.args.length < 2) throw new InstructionError("missing command after HEALTHCHECK CMD");
      const durations: Record<string, string> = {};
      for (const f of ["interval", "timeout", "start-period", "start-interval"]) {
        const v = flags.strings[f];
        if (v === undefined) continue;
        if (!/^(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))*$/.test(v) && v !== "0") throw new InstructionError(`HEALTHCHECK --${f}: "${v}" is not a duration`, "write a duration such as 30s or 1m30s");
        durations[f] = v;
      }
      let retries: number | undefined;
      if (flags.strings.retries !== undefined) {
        if (!/^-?\d+$/.test(flags.strings.retries)) throw new InstructionError(`HEALTHCHECK --retries: "${flags.strings.retries}" is not a whole number`);
        retries = Number(flags.strings.retries);
        if (retries < 0) throw new InstructionError("HEALTHCHECK --retries cannot be negative");
      }
      return {
        ...at,
        kind: "healthcheck",
        test: commandLine(node, node.args.slice(1)),
        interval: durations.interval,
        timeout: durations.timeout,
        startPeriod: durations["start-period"],
        startInterval: durations["start-interval"],
        retries,
      };
    }
    case "onbuild": {
      const trigger = node.onbuild;
      if (!trigger) throw new InstructionError("ONBUILD requires at least one argument");
      if (trigger.cmd === "onbuild") throw new InstructionError("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger.cmd === "from" || trigger.cmd === "maintainer") throw new InstructionError(`${trigger.cmd.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      // Like Docker, the trigger itself is checked only when a child image runs it.
      return { ...at, kind: "onbuild", trigger: node.original.replace(/^\s*onbuild\s*/i, "") };
    }
    default:
      throw new InstructionError(`unknown instruction "${node.cmd.toUpperCase()}"`);
  }
}

/** Check every node and group the instructions into stages; errors name `file:line`. */
export function parseInstructions(parsed: ParsedDockerfile, file = "Dockerfile"): DockerfileInstructions {
  const result: DockerfileInstructions = { metaArgs: [], stages: [] };
  for (const node of parsed.nodes) {
    let ins: Instruction;
    try {
      ins = toInstruction(node, node.heredocs);
    } catch (e) {
      if (e instanceof InstructionError) throw new InvalidInputError(`${file}:${node.line}: ${e.message}`, { hint: e.hint ?? "see https://docs.docker.com/reference/dockerfile/" });
      throw e;
    }
    const stage = result.stages[result.stages.length - 1];
    if (ins.kind === "from") result.stages.push({ from: ins, instructions: [] });
    else if (stage) stage.instructions.push(ins);
    else if (ins.kind === "arg") result.metaArgs.push(ins);
    else throw new InvalidInputError(`${file}:${node.line}: ${node.cmd.toUpperCase()} before the first FROM`, { hint: "only ARG may come before the first FROM" });
  }
  if (result.stages.length === 0) throw new InvalidInputError(`${file}: no FROM instruction`, { hint: "a Dockerfile starts its first build stage with FROM IMAGE" });
  return result;
}

/** Parse and check a Dockerfile's text in one step (what a build starts with). */
export function loadDockerfile(text: string, file = "Dockerfile"): { parsed: ParsedDockerfile; instructions: DockerfileInstructions } {
  const parsed = parseDockerfile(text, file);
  return { parsed, instructions: parseInstructions(parsed, file) };
}
