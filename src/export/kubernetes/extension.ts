// The `x-kubernetes` extension: the few choices a stack file can make about
// its Kubernetes form. Unknown keys and bad values are errors (a typo must not
// silently fall back to a default).
//
//   services.<name>.x-kubernetes:  { workload: deployment | statefulset | job }
//   volumes.<name>.x-kubernetes:   { size: 5Gi, storage_class: fast, access_mode: ReadWriteMany }
//   x-kubernetes (top level):      { volumes: { <name>: <as above> }, wait_image: IMAGE, kubectl_image: IMAGE }
import { InvalidInputError } from "../../errors.js";
import type { ServiceModel, StackModel, VolumeModel } from "../../schema/model.js";
import { isStorageQuantity, memoryQuantity } from "./quantities.js";

export type WorkloadKind = "Deployment" | "StatefulSet" | "Job";

export type AccessMode = "ReadWriteOnce" | "ReadWriteOncePod" | "ReadWriteMany" | "ReadOnlyMany";

export interface VolumeSettings {
  size: string;
  storageClass?: string;
  accessMode: AccessMode;
}

export interface ProjectSettings {
  waitImage: string;
  kubectlImage: string;
}

/** Image of the init containers that wait for a port (needs `sh`, `nc -z`). */
export const defaultWaitImage = "busybox:1.36";
/** Image of the init containers that wait for a Job (needs `kubectl`). */
export const defaultKubectlImage = "registry.k8s.io/kubectl:v1.33.0";
export const defaultVolumeSize = "1Gi";
const accessModes: AccessMode[] = ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany"];
const workloads: Record<string, WorkloadKind> = { deployment: "Deployment", statefulset: "StatefulSet", job: "Job" };

function asRecord(value: unknown, path: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidInputError(`${path}: ${JSON.stringify(value)} is not a mapping`, { hint: "write x-kubernetes as a mapping of keys to values" });
  }
  return value as Record<string, unknown>;
}

function checkKeys(record: Record<string, unknown>, allowed: string[], path: string): void {
  for (const key of Object.keys(record).sort()) {
    if (!allowed.includes(key)) {
      throw new InvalidInputError(`${path}.${key}: unknown key "${key}"`, { hint: `x-kubernetes accepts ${allowed.join(", ")} here` });
    }
  }
}

function stringAt(record: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = record[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") throw new InvalidInputError(`${path}.${key}: ${JSON.stringify(v)} is not a non-empty string`);
  return v;
}

export function serviceWorkload(service: ServiceModel): WorkloadKind | undefined {
  const path = `services.${service.name}.x-kubernetes`;
  const ext = asRecord(service.extensions["x-kubernetes"], path);
  checkKeys(ext, ["workload"], path);
  const w = stringAt(ext, "workload", path);
  if (w === undefined) return undefined;
  const kind = workloads[w];
  if (!kind) throw new InvalidInputError(`${path}.workload: "${w}" is not a workload kind`, { hint: `use one of ${Object.keys(workloads).join(", ")}` });
  return kind;
}

function topLevel(model: StackModel): Record<string, unknown> {
  const ext = asRecord(model.extensions["x-kubernetes"], "x-kubernetes");
  checkKeys(ext, ["kubectl_image", "volumes", "wait_image"], "x-kubernetes");
  return ext;
}

export function projectSettings(model: StackModel): ProjectSettings {
  const ext = topLevel(model);
  return {
    waitImage: stringAt(ext, "wait_image", "x-kubernetes") ?? defaultWaitImage,
    kubectlImage: stringAt(ext, "kubectl_image", "x-kubernetes") ?? defaultKubectlImage,
  };
}

/**
 * Settings of a named volume: from `x-kubernetes` on the volume itself (when
 * the model carries volume extensions) or from the top-level
 * `x-kubernetes.volumes.<name>`.
 */
export function volumeSettings(model: StackModel, volume: VolumeModel): VolumeSettings {
  const own = (volume as VolumeModel & { extensions?: Record<string, unknown> }).extensions?.["x-kubernetes"];
  const ownPath = `volumes.${volume.key}.x-kubernetes`;
  const sharedPath = `x-kubernetes.volumes.${volume.key}`;
  const shared = asRecord(asRecord(topLevel(model).volumes, "x-kubernetes.volumes")[volume.key], sharedPath);
  const [ext, path] = own !== undefined ? [asRecord(own, ownPath), ownPath] : [shared, sharedPath];
  checkKeys(ext, ["access_mode", "size", "storage_class"], path);
  let size = defaultVolumeSize;
  if (typeof ext.size === "number" && Number.isInteger(ext.size) && ext.size > 0) size = memoryQuantity(ext.size);
  else if (ext.size !== undefined) {
    if (typeof ext.size !== "string" || !isStorageQuantity(ext.size)) {
      throw new InvalidInputError(`${path}.size: ${JSON.stringify(ext.size)} is not a storage size`, { hint: 'write a Kubernetes quantity such as "5Gi" or "500Mi"' });
    }
    size = ext.size;
  }
  const accessMode = stringAt(ext, "access_mode", path) ?? "ReadWriteOnce";
  if (!(accessModes as string[]).includes(accessMode)) {
    throw new InvalidInputError(`${path}.access_mode: "${accessMode}" is not an access mode`, { hint: `use one of ${accessModes.join(", ")}` });
  }
  return { size, storageClass: stringAt(ext, "storage_class", path), accessMode: accessMode as AccessMode };
}
