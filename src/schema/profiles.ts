// Profiles: a service that lists `profiles:` is enabled only when one of them
// is active (`--profile`, else STACK_PROFILES / COMPOSE_PROFILES; `*` = all),
// or when it is named on the command line — then the services it depends on
// are enabled with it. The others move to `disabled_services`.
import { InvalidInputError, NotFoundError } from "../errors.js";
import type { ServiceModel, StackModel } from "./model.js";

/** The active profiles: the flags, else the comma list in the environment. */
export function activeProfiles(flags: string[], env: Record<string, string | undefined>): string[] {
  const raw = flags.length > 0 ? flags : (env.STACK_PROFILES || env.COMPOSE_PROFILES || "").split(",");
  const out: string[] = [];
  for (const p of raw.map((x) => x.trim())) if (p !== "" && !out.includes(p)) out.push(p);
  return out;
}

/**
 * Splits the model's services into enabled and disabled ones. `named` are the
 * services given on the command line (an unknown one is a NotFoundError).
 */
export function applyProfiles(model: StackModel, profiles: string[], named: string[] = []): StackModel {
  const all: Record<string, ServiceModel> = { ...model.disabled_services, ...model.services };
  for (const name of named) {
    if (!Object.hasOwn(all, name)) {
      throw new NotFoundError(`no such service: ${JSON.stringify(name)}`, { hint: `the services are: ${Object.keys(all).sort().join(", ") || "(none)"}` });
    }
  }
  const everything = profiles.includes("*");
  const byProfile = (s: ServiceModel) => s.profiles.length === 0 || everything || s.profiles.some((p) => profiles.includes(p));
  const enabled = new Set(Object.keys(all).filter((n) => byProfile(all[n]!)));
  // A named service brings the services it depends on.
  const pending = [...named].sort();
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (enabled.has(name) && !named.includes(name)) continue;
    enabled.add(name);
    for (const dep of Object.keys(all[name]?.depends_on ?? {}).sort()) if (!enabled.has(dep) && Object.hasOwn(all, dep)) pending.push(dep);
  }
  for (const name of [...enabled].sort()) {
    for (const [dep, d] of Object.entries(all[name]!.depends_on).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!d.required || enabled.has(dep) || !Object.hasOwn(all, dep)) continue;
      const needs = all[dep]!.profiles;
      throw new InvalidInputError(`service ${JSON.stringify(name)} depends on ${JSON.stringify(dep)}, which is disabled: it belongs to profile${needs.length > 1 ? "s" : ""} ${needs.map((p) => JSON.stringify(p)).join(", ")}`, {
        hint: `activate it with --profile ${needs[0]}, or name ${dep} on the command line`,
      });
    }
  }
  const services: Record<string, ServiceModel> = {};
  const disabled: Record<string, ServiceModel> = {};
  for (const name of Object.keys(all).sort()) (enabled.has(name) ? services : disabled)[name] = all[name]!;
  return { ...model, profiles, services, disabled_services: disabled };
}
