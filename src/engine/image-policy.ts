// What `up` does for a service's image (pure): use the local one, pull, or
// build — from its pull_policy, whether it has `build:`, the local store and
// the flags (--build, --no-build, --pull). Compose's rules: a service with
// `build:` is built when its image is missing, or always with --build;
// `pull_policy: build` (also the normalized default of a service with
// `build:` and no `image:`) means "built, never pulled"; `--pull` overrides
// every service's pull_policy.
import { shouldPull } from "../image/registry/pull-policy.js";
import type { ServiceModel } from "../schema/model.js";

export interface ImageFlags {
  /** --build: build every service that has `build:`. */
  build?: boolean;
  /** --no-build: never build; a missing image is an error. */
  noBuild?: boolean;
  /** --pull always|missing|never: replaces each service's pull_policy. */
  pull?: string;
}

export type ImageDecision = "local" | "pull" | "build" | "missing";

export function decideImage(service: Pick<ServiceModel, "image" | "build" | "pull_policy">, local: boolean, flags: ImageFlags, now: Date, lastPulledAt?: Date): ImageDecision {
  const canBuild = !!service.build && !flags.noBuild;
  const policy = flags.pull ?? (service.pull_policy === "if_not_present" ? "missing" : service.pull_policy);
  if (canBuild && flags.build) return "build";
  if (canBuild && policy === "build" && !local) return "build";
  if (service.image && policy !== "build" && shouldPull(policy, local ? true : undefined, now, lastPulledAt)) {
    // A buildable service whose image is missing is built, not pulled (unless the policy says to pull).
    if (canBuild && !local && flags.pull === undefined && (policy === "missing" || policy === "never")) return "build";
    return "pull";
  }
  if (local) return "local";
  return canBuild ? "build" : "missing";
}
