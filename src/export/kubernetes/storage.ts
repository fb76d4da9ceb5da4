// Storage of a stack in Kubernetes terms: PersistentVolumeClaims for named
// volumes, ConfigMaps for `configs`, Secrets for `secrets`, and, per service,
// the pod volumes and mounts that use them.
//
// Mapping of one service volume:
//   named volume          → the shared claim, or the StatefulSet's claim template (see plan.ts)
//   external named volume → a claim that must already exist, named after the volume's `name`
//   anonymous volume      → emptyDir (lost with the pod, as Compose loses it with the container)
//   tmpfs                 → emptyDir in memory (sizeLimit from tmpfs.size)
//   bind mount, image, npipe, cluster → not translated (a note)
// A config or secret is mounted as a single file at its target (subPath).
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";
import { InvalidInputError, SystemError } from "../../errors.js";
import type { FileReferenceModel, SecretOrConfigModel, ServiceModel, StackModel } from "../../schema/model.js";
import { volumeSettings } from "./extension.js";
import { objectMeta } from "./metadata.js";
import { dataKeyFor, objectNameFor } from "./names.js";
import { memoryQuantity } from "./quantities.js";
import type { StackPlan } from "./plan.js";

/** How the translation reads the files that `configs` and `secrets` name (injected: the translation itself stays pure). */
export interface ExportSources {
  /** The file's bytes, or undefined when it does not exist; throws when it exists but cannot be read. */
  readFile(path: string): Uint8Array | undefined;
  /** The environment that `environment:` configs and secrets read. */
  env: Record<string, string | undefined>;
}

type ClaimSpec = NonNullable<IPersistentVolumeClaim["spec"]>;

export function claimSpec(model: StackModel, key: string): ClaimSpec {
  const s = volumeSettings(model, model.volumes[key]!);
  return {
    accessModes: [s.accessMode],
    resources: { requests: { storage: s.size } },
    ...(s.storageClass ? { storageClassName: s.storageClass } : {}),
  };
}

export function claimObjects(model: StackModel, plan: StackPlan, namespace?: string): IPersistentVolumeClaim[] {
  return plan.sharedClaims.map((key) => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: objectMeta({ name: objectNameFor(key, `volumes.${key}`), namespace, project: model.name, user: model.volumes[key]!.labels }),
    spec: claimSpec(model, key),
  }));
}

interface FileSource {
  key: string;
  metadata: ReturnType<typeof objectMeta>;
  dataKey: string;
  bytes: Uint8Array;
}

/**
 * The non-external configs (or secrets) that enabled services reference,
 * sorted, with their content read. A file that does not exist gives a
 * warning instead of an object: the object is then expected in the cluster,
 * under the name the pods already use.
 */
function fileSources(model: StackModel, which: "configs" | "secrets", sources: ExportSources, warnings: string[], namespace?: string): FileSource[] {
  const keys = new Set<string>();
  for (const s of Object.values(model.services)) for (const r of s[which]) keys.add(r.source);
  const out: FileSource[] = [];
  for (const key of [...keys].sort()) {
    const item = model[which][key];
    if (!item || item.external) continue;
    const name = objectNameFor(key, `${which}.${key}`);
    const bytes = contentOf(item, `${which}.${key}`, sources);
    if (bytes === undefined) {
      const create = which === "secrets" ? `kubectl create secret generic ${name}` : `kubectl create configmap ${name}`;
      warnings.push(`${which}.${key}: file "${item.file}" does not exist, so no ${which === "secrets" ? "Secret" : "ConfigMap"} is written; create it in the cluster (${create} --from-file=${dataKeyFor(key)}=FILE)`);
      continue;
    }
    out.push({ key, metadata: objectMeta({ name, namespace, project: model.name, user: item.labels }), dataKey: dataKeyFor(key), bytes });
  }
  return out;
}

function contentOf(item: SecretOrConfigModel, path: string, sources: ExportSources): Uint8Array | undefined {
  if (item.content !== undefined) return new TextEncoder().encode(item.content);
  if (item.environment !== undefined) {
    const value = sources.env[item.environment];
    if (value === undefined) {
      throw new InvalidInputError(`${path}.environment: variable "${item.environment}" is not set`, { hint: `set ${item.environment} in the environment of the export` });
    }
    return new TextEncoder().encode(value);
  }
  if (item.file !== undefined) {
    try {
      return sources.readFile(item.file);
    } catch (e) {
      throw new SystemError(`${path}.file: cannot read "${item.file}": ${(e as Error).message}`, { hint: "check the file's permissions, or fix the path in the stack file", cause: e });
    }
  }
  throw new InvalidInputError(`${path}: has no file, content or environment`, { hint: "give the source of its content, or mark it external" });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function asText(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** A ConfigMap per config: text as `data`, other bytes as `binaryData`. */
export function configMapObjects(model: StackModel, sources: ExportSources, warnings: string[], namespace?: string): IConfigMap[] {
  return fileSources(model, "configs", sources, warnings, namespace).map((f) => {
    const text = asText(f.bytes);
    return { apiVersion: "v1", kind: "ConfigMap", metadata: f.metadata, ...(text !== undefined ? { data: { [f.dataKey]: text } } : { binaryData: { [f.dataKey]: base64(f.bytes) } }) };
  });
}

/** A Secret (Opaque, base64 `data`) per secret. */
export function secretObjects(model: StackModel, sources: ExportSources, warnings: string[], namespace?: string): ISecret[] {
  return fileSources(model, "secrets", sources, warnings, namespace).map((f) => ({ apiVersion: "v1", kind: "Secret", metadata: f.metadata, type: "Opaque", data: { [f.dataKey]: base64(f.bytes) } }));
}

export interface PodStorage {
  volumes: IVolume[];
  mounts: IVolumeMount[];
}

/** The pod volumes and container mounts of one service; what cannot be translated is added to `notes`. */
export function podStorage(model: StackModel, plan: StackPlan, service: ServiceModel, notes: string[]): PodStorage {
  const volumes = new Map<string, IVolume>();
  const mounts: IVolumeMount[] = [];
  const path = `services.${service.name}`;
  const templates = new Set(plan.claimTemplates.get(service.name) ?? []);
  const origins = new Map<string, string>();
  // `origin` names what the volume stands for: one origin, one Kubernetes volume name.
  const addVolume = (volume: IVolume | undefined, name: string, origin: string) => {
    const existing = origins.get(name);
    if (existing !== undefined && existing !== origin) {
      throw new InvalidInputError(`${path}: two volumes of the service map to the Kubernetes volume name "${name}"`, {
        hint: "rename one of the volumes (names are lowercased and _ becomes -)",
      });
    }
    origins.set(name, origin);
    if (volume) volumes.set(name, volume);
  };
  let anonymous = 0;
  let tmpfs = 0;
  for (const v of service.volumes) {
    if (v.type === "volume") {
      const base = { mountPath: v.target, ...(v.read_only ? { readOnly: true } : {}), ...(v.volume.subpath ? { subPath: v.volume.subpath } : {}) };
      if (v.source === undefined) {
        const name = `anon-${anonymous++}`;
        addVolume({ name, emptyDir: {} }, name, name);
        mounts.push({ name, ...base });
        continue;
      }
      const top = model.volumes[v.source];
      if (!top) throw new InvalidInputError(`${path}.volumes: volume "${v.source}" is not defined`, { hint: "declare it under the top-level volumes:" });
      const name = objectNameFor(v.source, `volumes.${v.source}`);
      if (templates.has(v.source)) {
        addVolume(undefined, name, `volume:${v.source}`);
      } else {
        const claimName = top.external ? objectNameFor(top.name, `volumes.${v.source}.name`) : name;
        addVolume({ name, persistentVolumeClaim: { claimName, ...(v.read_only ? { readOnly: true } : {}) } }, name, `volume:${v.source}`);
        const pods = plan.volumePods.get(v.source) ?? 0;
        const mode = top.external ? undefined : volumeSettings(model, top).accessMode;
        if (pods > 1 && (mode === "ReadWriteOnce" || mode === "ReadWriteOncePod")) {
          notes.push(`volume ${v.source} is ${mode} but ${pods} pods mount it (they must share one node; set x-kubernetes access_mode ReadWriteMany if the storage class allows it)`);
        }
      }
      mounts.push({ name, ...base });
    } else if (v.type === "tmpfs") {
      const name = `tmpfs-${tmpfs++}`;
      addVolume({ name, emptyDir: { medium: "Memory", ...(v.tmpfs.size ? { sizeLimit: memoryQuantity(v.tmpfs.size) } : {}) } }, name, name);
      mounts.push({ name, mountPath: v.target, ...(v.read_only ? { readOnly: true } : {}) });
    } else if (v.type === "bind") {
      notes.push(`bind mount ${v.source} → ${v.target} (host paths do not exist on cluster nodes: put the files in the image, a config or a volume)`);
    } else {
      notes.push(`${v.type} volume ${"source" in v && v.source ? `${v.source} ` : ""}→ ${v.target}`);
    }
  }
  for (const entry of service.tmpfs) {
    const target = entry.split(":")[0]!;
    const name = `tmpfs-${tmpfs++}`;
    addVolume({ name, emptyDir: { medium: "Memory" } }, name, name);
    mounts.push({ name, mountPath: target });
  }
  if (service.shm_size !== undefined) {
    addVolume({ name: "dshm", emptyDir: { medium: "Memory", sizeLimit: memoryQuantity(service.shm_size) } }, "dshm", "dshm");
    mounts.push({ name: "dshm", mountPath: "/dev/shm" });
  }
  fileMounts(model, service, "configs", addVolume, mounts, notes);
  fileMounts(model, service, "secrets", addVolume, mounts, notes);
  const sortedVolumes = [...volumes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  mounts.sort((a, b) => (a.mountPath < b.mountPath ? -1 : a.mountPath > b.mountPath ? 1 : 0));
  return { volumes: sortedVolumes, mounts };
}

function fileMounts(
  model: StackModel,
  service: ServiceModel,
  which: "configs" | "secrets",
  addVolume: (v: IVolume, name: string, origin: string) => void,
  mounts: IVolumeMount[],
  notes: string[],
): void {
  const kind = which === "configs" ? "config" : "secret";
  const seen = new Map<string, number>();
  const refs = [...service[which]].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : a.target < b.target ? -1 : 1));
  for (const ref of refs as FileReferenceModel[]) {
    const top = model[which][ref.source];
    if (!top) throw new InvalidInputError(`services.${service.name}.${which}: ${kind} "${ref.source}" is not defined`, { hint: `declare it under the top-level ${which}:` });
    const objectName = objectNameFor(top.external ? top.name : ref.source, `${which}.${ref.source}`);
    const dataKey = top.external ? dataKeyFor(top.name) : dataKeyFor(ref.source);
    const n = (seen.get(ref.source) ?? 0) + 1;
    seen.set(ref.source, n);
    const name = `${kind}-${objectNameFor(ref.source, `${which}.${ref.source}`)}${n > 1 ? `-${n}` : ""}`.slice(0, 63).replace(/-+$/, "");
    const items = [{ key: dataKey, path: dataKey, ...(ref.mode !== undefined ? { mode: ref.mode } : {}) }];
    addVolume(which === "configs" ? { name, configMap: { name: objectName, items } } : { name, secret: { secretName: objectName, items } }, name, `${kind}:${ref.source}:${n}`);
    mounts.push({ name, mountPath: ref.target, subPath: dataKey, readOnly: true });
    if (ref.uid !== undefined || ref.gid !== undefined) notes.push(`${which} ${ref.source}: uid/gid (files are owned by root, or by the pod's fsGroup)`);
  }
}
