// `extends`: a service starts from another service's definition — in the same
// file (`extends: base` or `{service: base}`) or in another one
// (`{service: base, file: common.yaml}`, relative to the extending file) —
// and its own keys merge over it by the merge rules. Chains are followed;
// a cycle is an error that lists the whole chain.
import { dirname, resolve } from "node:path";
import { InvalidInputError } from "../errors.js";
import { isMapping, mergeServiceDefinitions, type Doc, type MergeTags } from "./merge.js";
import { relocateService } from "./relocate.js";
import { formatProblem, type Location, type PathSegment } from "./source.js";
import type { YamlFile } from "./yaml-file.js";

export type Locator = (path: PathSegment[]) => Location | undefined;

/** One loaded stack file: parsed, interpolated and validated. */
export interface SourceFile {
  /** Absolute path, or "-" for stdin. */
  abs: string;
  /** The folder its relative paths (extends.file, include) are relative to. */
  dir: string;
  file: YamlFile;
}

/** Loads another stack file by absolute path (cached; validated). */
export type LoadSourceFile = (absPath: string) => SourceFile;

export interface ExtendsResult {
  /** The file's document with every `extends` resolved and removed. */
  doc: Doc;
  /** Locates a path of the result, following a service back to the one it extends. */
  locate: Locator;
}

interface Reference {
  source: SourceFile;
  service: string;
}

export function resolveExtends(source: SourceFile, loadFile: LoadSourceFile): ExtendsResult {
  const services = source.file.doc.services;
  if (!isMapping(services)) return { doc: source.file.doc, locate: source.file.locate };
  const resolved = new Map<string, Doc>();
  const bases = new Map<string, Reference>(); // "abs#service" → what it extends
  const keyOf = (r: Reference) => `${r.source.abs}#${r.service}`;

  const resolveService = (ref: Reference, chain: Reference[]): Doc => {
    const key = keyOf(ref);
    const done = resolved.get(key);
    if (done) return done;
    if (chain.some((c) => keyOf(c) === key)) {
      const names = [...chain.slice(chain.findIndex((c) => keyOf(c) === key)), ref].map((r) => (r.source === source ? r.service : `${r.source.file.path}#${r.service}`));
      const at = chain[chain.length - 1]!;
      throw new InvalidInputError(formatProblem({ path: ["services", at.service, "extends"], location: at.source.file.locate(["services", at.service, "extends"]), message: `extends cycle: ${names.join(" -> ")}` }), {
        hint: "remove one of the `extends` in the cycle",
      });
    }
    const all = ref.source.file.doc.services;
    const def = isMapping(all) ? all[ref.service] : undefined;
    if (!isMapping(def) || def.extends === undefined) {
      const plain = isMapping(def) ? def : {};
      resolved.set(key, plain);
      return plain;
    }
    const target = targetOf(ref, def.extends, loadFile);
    const targetServices = target.source.file.doc.services;
    if (!isMapping(targetServices) || !Object.hasOwn(targetServices, target.service)) {
      const path = ["services", ref.service, "extends"];
      throw new InvalidInputError(
        formatProblem({ path, location: ref.source.file.locate(path), message: `service ${JSON.stringify(target.service)} not found${target.source === ref.source ? "" : ` in ${target.source.file.path}`}` }),
        { hint: `extend one of: ${isMapping(targetServices) ? Object.keys(targetServices).sort().join(", ") || "(none)" : "(none)"}` },
      );
    }
    let base = resolveService(target, [...chain, ref]);
    if (target.source.dir !== ref.source.dir) base = relocateService(base, target.source.dir) as Doc;
    bases.set(key, target);
    const { extends: _consumed, ...own } = def;
    const merged = mergeServiceDefinitions(ref.service, base, own, tagsFor(ref.source.file, ref.service));
    resolved.set(key, merged);
    return merged;
  };

  const out: Doc = {};
  for (const name of Object.keys(services).sort()) out[name] = resolveService({ source, service: name }, []);
  const ordered: Doc = {};
  for (const name of Object.keys(services)) ordered[name] = out[name];

  const locateIn = (ref: Reference, rest: PathSegment[], hops: number): Location | undefined => {
    const hit = ref.source.file.locate(["services", ref.service, ...rest]);
    if (hit || hops > 50) return hit;
    const base = bases.get(keyOf(ref));
    return base ? locateIn(base, rest, hops + 1) : undefined;
  };
  const locate: Locator = (path) => {
    if (path[0] === "services" && typeof path[1] === "string" && path.length > 2) return locateIn({ source, service: path[1] }, path.slice(2), 0);
    return source.file.locate(path);
  };
  return { doc: { ...source.file.doc, services: ordered }, locate };
}

function targetOf(ref: Reference, spec: unknown, loadFile: LoadSourceFile): Reference {
  if (typeof spec === "string") return { source: ref.source, service: spec };
  if (isMapping(spec) && typeof spec.service === "string") {
    if (spec.file === undefined || spec.file === null) return { source: ref.source, service: spec.service };
    const abs = resolve(ref.source.dir, String(spec.file));
    return { source: abs === ref.source.abs ? ref.source : loadFile(abs), service: spec.service };
  }
  const path = ["services", ref.service, "extends"];
  throw new InvalidInputError(formatProblem({ path, location: ref.source.file.locate(path), message: `${JSON.stringify(spec)} is not a service to extend` }), {
    hint: "write `extends: NAME` or `extends: {service: NAME, file: FILE}`",
  });
}

/** The `!reset`/`!override` tags written under one service, for merging it over its base. */
function tagsFor(file: YamlFile, service: string): MergeTags {
  const under = (paths: PathSegment[][]) => paths.filter((p) => p[0] === "services" && p[1] === service && p.length > 2);
  return { resets: under(file.resets), overrides: under(file.overrides) };
}

/** The folder of a stack file's absolute path (the working directory for stdin). */
export function folderOf(abs: string, cwd: string): string {
  return abs === "-" ? cwd : dirname(abs);
}
