// The canonical text of a model for `stack config` (see canonical.ts).
import { stringify } from "yaml";
import { sortDeep } from "./canonical.js";
import type { StackModel } from "./model.js";

export type RenderFormat = "yaml" | "json";

export function renderModel(model: StackModel, format: RenderFormat): string {
  const sorted = sortDeep(model);
  if (format === "json") return `${JSON.stringify(sorted, null, 2)}\n`;
  // YAML 1.1 quoting: readers that still speak 1.1 must not see `restart: no` as false.
  return stringify(sorted, { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" });
}

/** The image each service runs: `image:`, else the name a build gets (`<project>-<service>`). */
export function serviceImages(model: StackModel): Array<{ service: string; image: string }> {
  return Object.keys(model.services)
    .sort()
    .map((name) => ({ service: name, image: model.services[name]!.image ?? `${model.name}-${name}` }));
}

/** Every profile named by any service, enabled or not, sorted. */
export function definedProfiles(model: StackModel): string[] {
  const all = new Set<string>();
  for (const s of [...Object.values(model.services), ...Object.values(model.disabled_services)]) for (const p of s.profiles) all.add(p);
  return [...all].sort();
}
