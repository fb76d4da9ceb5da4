// The canonical text of a model for `stack config`: the model written back as
// a stack file (compose-file.ts), keys sorted (canonical.ts, canonical-yaml.ts).
import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import { sortDeep } from "./canonical.js";
import { canonicalYamlChunks, OutsideCanonicalYaml } from "./canonical-yaml.js";
import { composeFile } from "./compose-file.js";
import type { StackModel } from "./model.js";

export type RenderFormat = "yaml" | "json";

/** `interpolated`: false for `config --no-interpolate` (see composeFile). */
export function renderModel(model: StackModel, format: RenderFormat, interpolated = true): string {
  return renderModelChunks(model, format, interpolated).join("");
}

/** renderModel's text in pieces, to be written one after the other (see canonicalYamlChunks). */
export function renderModelChunks(model: StackModel, format: RenderFormat, interpolated = true): string[] {
  const file = composeFile(model, interpolated);
  if (format === "json") return [`${JSON.stringify(sortDeep(file), null, 2)}\n`];
  try {
    return canonicalYamlChunks(file);
  } catch (e) {
    if (!(e instanceof OutsideCanonicalYaml)) throw e;
    return [yamlText(file)];
  }
}

/**
 * The same text from the `yaml` library, for what canonicalYaml leaves out
 * (keys over 1024 characters). YAML 1.1 quoting: readers that still speak
 * 1.1 must not see `restart: no` as false.
 */
export function yamlText(value: unknown): string {
  const { stringify } = createRequire(import.meta.url)("yaml") as typeof Yaml;
  return stringify(sortDeep(value), { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" });
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
