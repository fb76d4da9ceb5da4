// Normalization: the merged, interpolated, validated document → StackModel,
// with no short forms left (see model.ts for the contract). Each part has its
// own module under normalize/; this file assembles the project.
//
// Every service goes into `services`; profiles are applied afterwards by the
// loader (`applyProfiles`), which moves the disabled ones aside.
import type { NetworkModel, StackModel } from "./model.js";
import type { Location, PathSegment } from "./source.js";
import type { NormalizeContext } from "./normalize/context.js";
import { defaultNetwork, normalizeNetwork, normalizeSecretOrConfig, normalizeSection, normalizeVolume } from "./normalize/resources.js";
import { normalizeService } from "./normalize/service.js";
import { sortKeys } from "./normalize/units.js";

export interface NormalizeInput {
  name: string;
  projectDir: string;
  files: string[];
  profiles: string[];
  doc: Record<string, unknown>;
  env: Record<string, string>;
  /** The KEY=VALUE pairs of an env file, or undefined when it does not exist. */
  readEnvFile(path: string, format?: string): Record<string, string> | undefined;
  locate?(path: PathSegment[]): Location | undefined;
}

/** Top-level keys the loader consumes before normalization. */
const consumedByLoader = new Set(["name", "include"]);

export function normalizeStack(input: NormalizeInput): { model: StackModel; warnings: string[] } {
  const ctx: NormalizeContext = {
    project: input.name,
    projectDir: input.projectDir,
    env: input.env,
    readEnvFile: input.readEnvFile,
    locate: input.locate,
    warnings: [],
  };
  const doc = input.doc;
  if (doc.version !== undefined) ctx.warnings.push("version: the top-level `version` is obsolete and ignored; remove it");
  if (doc.models !== undefined) ctx.warnings.push("models: accepted but not acted on by stack");

  const services = normalizeSection(doc.services, (name, v) => normalizeService(ctx, name, v));
  const networks: Record<string, NetworkModel> = normalizeSection(doc.networks, (key, v) => normalizeNetwork(ctx, key, v));
  const usesDefault = Object.values(services).some((s) => "default" in s.networks);
  if (usesDefault && !networks.default) networks.default = defaultNetwork(input.name);

  const extensions: Record<string, unknown> = {};
  for (const key of Object.keys(doc).sort()) {
    if (key.startsWith("x-")) extensions[key] = doc[key];
    else if (!consumedByLoader.has(key) && !["version", "models", "services", "networks", "volumes", "secrets", "configs"].includes(key)) {
      ctx.warnings.push(`${key}: accepted but not acted on by stack`);
    }
  }

  const model: StackModel = {
    name: input.name,
    project_dir: input.projectDir,
    files: input.files,
    profiles: input.profiles,
    services,
    disabled_services: {},
    networks: sortKeys(networks),
    volumes: normalizeSection(doc.volumes, (key, v) => normalizeVolume(ctx, key, v)),
    secrets: normalizeSection(doc.secrets, (key, v) => normalizeSecretOrConfig(ctx, "secrets", key, v)),
    configs: normalizeSection(doc.configs, (key, v) => normalizeSecretOrConfig(ctx, "configs", key, v)),
    extensions,
  };
  return { model, warnings: ctx.warnings };
}
