// The build plan: typed instructions + build args + platform → the stages a
// target needs, what each depends on, the order in which independent stages
// can run side by side (levels), and every instruction with its variables
// substituted. Pure: no image is looked up and nothing is built here.
import { InvalidInputError, NotFoundError } from "../../errors.js";
import { suggestName } from "../../schema/did-you-mean.js";
import type { DockerfileInstructions, Instruction } from "./instructions.js";
import { processWord, processWords, SubstitutionError, type Env } from "./substitute.js";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface PlanOptions {
  /** Stage name (or index) to build; the last stage when absent. */
  target?: string;
  /** `--build-arg` values; an ARG without a value here keeps its default. */
  buildArgs: Record<string, string>;
  /** The platform built for (TARGET*) and the one building (BUILD*, defaults to the target). */
  platform: Platform;
  buildPlatform?: Platform;
  /** Escape token from the `# escape=` directive. */
  escapeToken?: string;
  /** Names the Dockerfile in errors. */
  file?: string;
  /**
   * The ENV of a base image (`FROM ref`), so `ENV PATH=/x:$PATH` sees the
   * image's PATH as Docker does; undefined when unknown (not in the store).
   */
  imageEnv?: (ref: string) => Record<string, string> | undefined;
}

export type StageBase = { kind: "scratch" } | { kind: "stage"; index: number } | { kind: "image"; ref: string };

export interface PlannedStep {
  /** The instruction as written. */
  instruction: Instruction;
  /** The same instruction with variables substituted where Docker substitutes them. */
  expanded: Instruction;
  /** ARG values in scope at this step (declared in this stage), sorted by name. */
  args: Record<string, string>;
  /** ENV values in effect at this step (this stage's own ENVs), sorted by name. */
  env: Record<string, string>;
  /** For RUN: the variables its process gets (proxy build args, then ARGs, then ENVs, later ones winning), sorted by name. */
  runEnv?: Record<string, string>;
}

export interface PlannedStage {
  index: number;
  name?: string;
  base: StageBase;
  platform?: string;
  /** Earlier stages this one reads (FROM, COPY --from, RUN --mount from=), sorted. */
  dependsOn: number[];
  /** Images read by COPY --from / RUN --mount from= that are not stages, sorted. */
  images: string[];
  steps: PlannedStep[];
}

export interface BuildPlan {
  /** Every stage of the Dockerfile, in file order. */
  stages: PlannedStage[];
  target: number;
  /** The stages the target needs, grouped: every stage's dependencies are in earlier levels. */
  levels: number[][];
  /** Values of the ARGs declared before the first FROM. */
  metaArgs: Record<string, string>;
  /** Build args given but declared by no ARG (Docker warns about them), sorted. */
  unusedBuildArgs: string[];
}

/** ARGs every build knows without a declaration: proxies reach RUN, platform ones need `ARG NAME` in a stage. */
export const proxyArgs = ["ALL_PROXY", "FTP_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "all_proxy", "ftp_proxy", "https_proxy", "http_proxy", "no_proxy"];

function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** TARGETPLATFORM, TARGETOS, … BUILDVARIANT for a build. */
export function platformArgs(target: Platform, build: Platform = target): Map<string, string> {
  return new Map([
    ["BUILDARCH", build.architecture],
    ["BUILDOS", build.os],
    ["BUILDPLATFORM", platformString(build)],
    ["BUILDVARIANT", build.variant ?? ""],
    ["TARGETARCH", target.architecture],
    ["TARGETOS", target.os],
    ["TARGETPLATFORM", platformString(target)],
    ["TARGETVARIANT", target.variant ?? ""],
  ]);
}

function sorted(m: Map<string, string>): Record<string, string> {
  return Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The `from=` of a `--mount` value (`type=cache,from=build,target=/x`). */
function mountFrom(mount: string): string | undefined {
  for (const field of mount.split(",")) {
    const i = field.indexOf("=");
    if (i > 0 && field.slice(0, i).trim().toLowerCase() === "from") return field.slice(i + 1).trim();
  }
  return undefined;
}

export function planBuild(dockerfile: DockerfileInstructions, options: PlanOptions): BuildPlan {
  const file = options.file ?? "Dockerfile";
  const lex = { escapeToken: options.escapeToken ?? "\\" };
  const declared = new Set<string>();
  const fail = (line: number, e: unknown): never => {
    if (e instanceof SubstitutionError) throw new InvalidInputError(`${file}:${line}: ${e.message}`, { hint: "check the ${…} expressions on this line" });
    throw e;
  };
  const word = (s: string, env: Env, line: number): string => {
    try {
      return processWord(s, env, lex);
    } catch (e) {
      return fail(line, e);
    }
  };
  const words = (s: string, env: Env, line: number): string[] => {
    try {
      return processWords(s, env, lex);
    } catch (e) {
      return fail(line, e);
    }
  };
  // A COPY/ADD heredoc body expands variables but keeps its quotes and escapes (RUN bodies are left to the shell).
  const heredocBody = (s: string, env: Env, line: number): string => {
    try {
      return processWord(s, env, { ...lex, skipProcessQuotes: true, rawEscapes: true });
    } catch (e) {
      return fail(line, e);
    }
  };
  const buildArg = (name: string): string | undefined => (Object.prototype.hasOwnProperty.call(options.buildArgs, name) ? options.buildArgs[name] : undefined);

  const proxies = new Map(proxyArgs.flatMap((k) => (buildArg(k) === undefined ? [] : [[k, buildArg(k)!] as [string, string]])));

  // Meta ARGs: the global scope holds the platform ARGs and what is declared before FROM.
  const automatic = platformArgs(options.platform, options.buildPlatform);
  const meta = new Map(automatic);
  const metaDeclared = new Map<string, string>();
  for (const ins of dockerfile.metaArgs) {
    for (const a of ins.args) {
      declared.add(a.key);
      const value = buildArg(a.key) ?? (a.value === undefined ? undefined : word(a.value, meta, ins.line));
      if (value !== undefined) {
        meta.set(a.key, value);
        metaDeclared.set(a.key, value);
      }
    }
  }

  const byName = new Map<string, number>();
  const stages: PlannedStage[] = [];
  const finalEnvs = new Map<number, Map<string, string>>();
  dockerfile.stages.forEach((stage, index) => {
    const image = word(stage.from.image, meta, stage.from.line);
    let base: StageBase;
    const earlier = byName.get(image.toLowerCase());
    if (earlier !== undefined) base = { kind: "stage", index: earlier };
    else if (image === "scratch") base = { kind: "scratch" };
    else if (image === "") throw new InvalidInputError(`${file}:${stage.from.line}: FROM "${stage.from.image}" expands to an empty image name`, { hint: "give the ARG it uses a default or pass --build-arg" });
    else base = { kind: "image", ref: image };
    const deps = new Set<number>();
    const images = new Set<string>();
    if (base.kind === "stage") deps.add(base.index);
    const readFrom = (name: string, line: number) => {
      const at = byName.get(name.toLowerCase()) ?? (/^\d+$/.test(name) ? Number(name) : undefined);
      if (at !== undefined && at < index) deps.add(at);
      else if (at !== undefined) throw new InvalidInputError(`${file}:${line}: "${name}" refers to stage ${at}, which is not before this one`, { hint: "a stage can only read stages defined above it" });
      else images.add(name);
    };

    const args = new Map<string, string>();
    // A stage starts with its base's environment: the image's ENV, or what the earlier stage ended with.
    const env = new Map<string, string>(
      base.kind === "image" ? Object.entries(options.imageEnv?.(base.ref) ?? {}) : base.kind === "stage" ? (finalEnvs.get(base.index) ?? []) : [],
    );
    const scope = (): Map<string, string> => new Map([...args, ...env]);
    const steps: PlannedStep[] = [];
    for (const ins of stage.instructions) {
      const vars = scope();
      let expanded: Instruction = ins;
      switch (ins.kind) {
        case "arg":
          expanded = {
            ...ins,
            args: ins.args.map((a) => {
              declared.add(a.key);
              const value = buildArg(a.key) ?? (a.value !== undefined ? word(a.value, vars, ins.line) : (metaDeclared.get(a.key) ?? automatic.get(a.key)));
              if (value !== undefined) {
                args.set(a.key, value);
                vars.set(a.key, value);
              }
              return value === undefined ? { key: a.key } : { key: a.key, value };
            }),
          };
          break;
        case "env":
        case "label": {
          const pairs = ins.pairs.map((p) => ({ key: word(p.key, vars, ins.line), value: word(p.value, vars, ins.line) }));
          if (ins.kind === "env") for (const p of pairs) env.set(p.key, p.value);
          expanded = { ...ins, pairs };
          break;
        }
        case "copy":
        case "add": {
          const from = ins.kind === "copy" && ins.from !== undefined ? word(ins.from, vars, ins.line) : undefined;
          if (from !== undefined) readFrom(from, ins.line);
          const w = (s: string | undefined) => (s === undefined ? undefined : word(s, vars, ins.line));
          expanded = {
            ...ins,
            sources: ins.sources.map((s) => word(s, vars, ins.line)),
            dest: word(ins.dest, vars, ins.line),
            from,
            chown: w(ins.chown),
            chmod: w(ins.chmod),
            checksum: w(ins.checksum),
            exclude: ins.exclude.map((s) => word(s, vars, ins.line)),
            heredocs: ins.heredocs.map((h) => (h.expand ? { ...h, content: heredocBody(h.content, vars, ins.line) } : h)),
          };
          break;
        }
        case "run": {
          const mounts = ins.mounts.map((m) => word(m, vars, ins.line));
          for (const m of mounts) {
            const from = mountFrom(m);
            if (from !== undefined) readFrom(from, ins.line);
          }
          expanded = { ...ins, mounts, network: ins.network === undefined ? undefined : word(ins.network, vars, ins.line) };
          break;
        }
        case "expose":
          expanded = { ...ins, ports: ins.ports.flatMap((p) => words(p, vars, ins.line)) };
          break;
        case "volume":
          expanded = { ...ins, paths: ins.paths.map((p) => word(p, vars, ins.line)) };
          break;
        case "user":
        case "workdir":
        case "stopsignal":
          expanded = { ...ins, value: word(ins.value, vars, ins.line) };
          break;
        default:
          break;
      }
      const step: PlannedStep = { instruction: ins, expanded, args: sorted(args), env: sorted(env) };
      if (ins.kind === "run") step.runEnv = sorted(new Map([...proxies, ...args, ...env]));
      steps.push(step);
    }
    const planned: PlannedStage = { index, base, dependsOn: [...deps].sort((a, b) => a - b), images: [...images].sort(), steps };
    if (stage.from.stageName !== undefined) planned.name = stage.from.stageName;
    if (stage.from.platform !== undefined) planned.platform = word(stage.from.platform, meta, stage.from.line);
    stages.push(planned);
    finalEnvs.set(index, new Map(env));
    if (stage.from.stageName !== undefined) byName.set(stage.from.stageName, index);
  });

  let target = stages.length - 1;
  if (options.target !== undefined) {
    const t = byName.get(options.target.toLowerCase());
    if (t === undefined) {
      const s = suggestName(options.target, byName.keys());
      throw new NotFoundError(`target stage "${options.target}" could not be found in ${file}`, { hint: s ? `did you mean "${s}"?` : `stages: ${[...byName.keys()].sort().join(", ") || "(none named)"}` });
    }
    target = t;
  }

  const level = new Map<number, number>();
  const visit = (i: number): number => {
    const known = level.get(i);
    if (known !== undefined) return known;
    const l = Math.max(-1, ...stages[i]!.dependsOn.map(visit)) + 1;
    level.set(i, l);
    return l;
  };
  visit(target);
  const levels: number[][] = [];
  for (const [i, l] of [...level].sort(([a], [b]) => a - b)) (levels[l] ??= []).push(i);

  const unusedBuildArgs = Object.keys(options.buildArgs)
    .filter((k) => !declared.has(k) && !proxyArgs.includes(k))
    .sort();
  return { stages, target, levels, metaArgs: sorted(metaDeclared), unusedBuildArgs };
}
