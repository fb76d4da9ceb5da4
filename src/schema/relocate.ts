// Relative host paths in a stack file are relative to that file's project.
// A service brought in from another folder (`extends: {file: ../x.yaml}`, or an
// `include`) keeps meaning the same files once its paths are made absolute
// against its own folder — the main project's normalizer then leaves them be.
import { isAbsolute, resolve } from "node:path";
import { isMapping, type Doc } from "./merge.js";

const REMOTE = /^([a-z][a-z0-9+.-]*:\/\/|git@|github\.com\/)/i;

function absolute(dir: string, p: unknown): unknown {
  if (typeof p !== "string" || p === "" || isAbsolute(p) || p.startsWith("~") || REMOTE.test(p)) return p;
  return resolve(dir, p);
}

/** A copy of a service whose relative host paths are resolved against `dir`. */
export function relocateService(service: unknown, dir: string): unknown {
  if (!isMapping(service)) return service;
  const out: Doc = { ...service };
  if (typeof out.build === "string") out.build = absolute(dir, out.build);
  else if (isMapping(out.build)) out.build = { ...out.build, context: absolute(dir, out.build.context ?? ".") };
  if (Array.isArray(out.volumes)) out.volumes = out.volumes.map((v) => relocateVolume(v, dir));
  for (const key of ["env_file", "label_file"]) {
    const value = out[key];
    const one = (e: unknown): unknown => (isMapping(e) ? { ...e, path: absolute(dir, e.path) } : absolute(dir, e));
    if (Array.isArray(value)) out[key] = value.map(one);
    else if (value !== undefined) out[key] = one(value);
  }
  if (isMapping(out.develop) && Array.isArray(out.develop.watch)) {
    out.develop = { ...out.develop, watch: out.develop.watch.map((w) => (isMapping(w) ? { ...w, path: absolute(dir, w.path) } : w)) };
  }
  return out;
}

function relocateVolume(v: unknown, dir: string): unknown {
  if (isMapping(v)) return v.type === "bind" ? { ...v, source: absolute(dir, v.source) } : v;
  if (typeof v !== "string" || !v.startsWith(".")) return v; // a named volume or an absolute path
  const colon = v.indexOf(":");
  return colon < 0 ? v : `${absolute(dir, v.slice(0, colon)) as string}${v.slice(colon)}`;
}

/** A copy of a whole document (services, secrets, configs) relocated against `dir`. */
export function relocateDocument(doc: Doc, dir: string): Doc {
  const out: Doc = { ...doc };
  if (isMapping(doc.services)) {
    out.services = Object.fromEntries(Object.entries(doc.services).map(([name, s]) => [name, relocateService(s, dir)]));
  }
  for (const key of ["secrets", "configs"]) {
    const section = doc[key];
    if (!isMapping(section)) continue;
    out[key] = Object.fromEntries(Object.entries(section).map(([name, d]) => [name, isMapping(d) && d.file !== undefined ? { ...d, file: absolute(dir, d.file) } : d]));
  }
  return out;
}
