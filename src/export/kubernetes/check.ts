// Validation of manifests against the Kubernetes API schemas shipped by the
// kubernetes-models package (4.5.x: the OpenAPI schemas of Kubernetes
// v1.33.0, compiled to validators). It checks types, required fields and
// enumerations; like kubectl's client-side check, it does not reject unknown
// fields (the translation's own types rule those out at compile time).
import type { KubeObject } from "./translate.js";

export const kubernetesVersion = "v1.33.0";
export const schemaPackage = "kubernetes-models 4.5";

interface Validating {
  validate(): void;
}
type ModelClass = new (data: never) => Validating;

const loaders: Record<KubeObject["kind"], () => Promise<ModelClass>> = {
  Namespace: async () => (await import("kubernetes-models/v1/Namespace")).Namespace as unknown as ModelClass,
  ServiceAccount: async () => (await import("kubernetes-models/v1/ServiceAccount")).ServiceAccount as unknown as ModelClass,
  Role: async () => (await import("kubernetes-models/rbac.authorization.k8s.io/v1/Role")).Role as unknown as ModelClass,
  RoleBinding: async () => (await import("kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding")).RoleBinding as unknown as ModelClass,
  Secret: async () => (await import("kubernetes-models/v1/Secret")).Secret as unknown as ModelClass,
  ConfigMap: async () => (await import("kubernetes-models/v1/ConfigMap")).ConfigMap as unknown as ModelClass,
  PersistentVolumeClaim: async () => (await import("kubernetes-models/v1/PersistentVolumeClaim")).PersistentVolumeClaim as unknown as ModelClass,
  Service: async () => (await import("kubernetes-models/v1/Service")).Service as unknown as ModelClass,
  Job: async () => (await import("kubernetes-models/batch/v1/Job")).Job as unknown as ModelClass,
  StatefulSet: async () => (await import("kubernetes-models/apps/v1/StatefulSet")).StatefulSet as unknown as ModelClass,
  Deployment: async () => (await import("kubernetes-models/apps/v1/Deployment")).Deployment as unknown as ModelClass,
};

interface SchemaError {
  instancePath?: string;
  message?: string;
  params?: { allowedValues?: unknown[] };
}

/** Problems of every object, as `Kind/name: path: message` lines; empty when all are valid. */
export async function checkManifests(objects: KubeObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const Model = await loaders[object.kind]();
    try {
      new Model(object as never).validate();
    } catch (e) {
      const errors = (e as { errors?: SchemaError[] }).errors;
      const id = `${object.kind}/${object.metadata?.name}`;
      if (!errors) {
        problems.push(`${id}: ${(e as Error).message}`);
        continue;
      }
      for (const err of errors) {
        const where = (err.instancePath ?? "").replace(/^\//, "").replace(/\//g, ".") || "(object)";
        const allowed = err.params?.allowedValues ? ` (${err.params.allowedValues.map((v) => JSON.stringify(v)).join(", ")})` : "";
        problems.push(`${id}: ${where}: ${err.message ?? "is invalid"}${allowed}`);
      }
    }
  }
  return problems;
}
