// Manifests as text: one multi-document YAML stream, or one file per object.
// Keys have a fixed order: apiVersion, kind, metadata, name, namespace first,
// then every other key alphabetically, at every depth; lists keep their
// (already sorted) order. The same model always renders byte-identical text.
import { stringify } from "yaml";
import type { KubeObject } from "./translate.js";
import { kindOrder } from "./translate.js";

const firstKeys = ["apiVersion", "kind", "metadata", "name", "namespace"];

function keyRank(key: string): number {
  const i = firstKeys.indexOf(key);
  return i < 0 ? firstKeys.length : i;
}

/** A deep copy with keys in the canonical order. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => keyRank(a) - keyRank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
}

// kubectl reads manifests with YAML 1.1 rules, where a bare `no`, `on` or
// `12:30:00` is not a string: rendering as YAML 1.1 quotes every such string.
function renderObject(object: KubeObject): string {
  return stringify(canonical(object), { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" });
}

/** All objects as one YAML stream (documents separated by `---`). */
export function renderManifests(objects: KubeObject[]): string {
  return objects.map((o) => `---\n${renderObject(o)}`).join("");
}

export interface ManifestFile {
  /** `<NN>-<kind>-<name>.yaml`; NN follows the kind order, so `kubectl apply -f DIR` creates what others need first. */
  name: string;
  content: string;
}

export function manifestFiles(objects: KubeObject[]): ManifestFile[] {
  return objects.map((o) => ({
    name: `${String(kindOrder.indexOf(o.kind)).padStart(2, "0")}-${o.kind.toLowerCase()}-${o.metadata!.name}.yaml`,
    content: renderObject(o),
  }));
}
