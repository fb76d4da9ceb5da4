// The config hash of a service: it changes exactly when a field that shapes
// the running container changes, so `up` recreates only changed services.
// Replica count, watch rules, profiles and log attachment do not shape a
// container and are left out.
import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical.js";
import type { ServiceModel } from "./model.js";

const excluded = new Set(["scale", "develop", "profiles", "attach"]);

/** sha256 (hex) of the service's container-shaping fields, plus the image digest when known. */
export function configHash(service: ServiceModel, imageDigest?: string): string {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(service)) if (!excluded.has(k)) fields[k] = v;
  if (service.deploy) {
    const { replicas: _replicas, ...deploy } = service.deploy;
    fields.deploy = deploy;
  }
  if (imageDigest !== undefined) fields["image_digest"] = imageDigest;
  return createHash("sha256").update(canonicalJson(fields)).digest("hex");
}
