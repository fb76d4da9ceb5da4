// StackModel → Kubernetes objects. Pure: the model, the options and the
// injected file reader in; the objects (in their canonical order) and the
// warnings out. Rendering to YAML is render.ts; schema checking is check.ts.
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { InvalidInputError } from "../../errors.js";
import type { StackModel } from "../../schema/model.js";
import { projectSettings } from "./extension.js";
import { objectMeta, projectLabelValue, selectorLabels } from "./metadata.js";
import { checkServiceName, isDns1123Label, objectNameFor } from "./names.js";
import { planStack } from "./plan.js";
import { clusterService, publicService, publicSuffix, type ServiceType } from "./services.js";
import { claimObjects, configMapObjects, secretObjects, type ExportSources } from "./storage.js";
import { untranslatedSettings } from "./untranslated.js";
import { builtImages, envConfigMapName, environmentInConfigMap, environmentOf, workloadFor, type WorkloadContext } from "./workloads.js";

export type { ExportSources } from "./storage.js";
export type { ServiceType } from "./services.js";

export type KubeObject =
  | INamespace
  | IServiceAccount
  | IRole
  | IRoleBinding
  | ISecret
  | IConfigMap
  | IPersistentVolumeClaim
  | IService
  | IJob
  | IStatefulSet
  | IDeployment;

export interface KubernetesExportOptions {
  /** Namespace of every object (and a Namespace object); none = the namespace of `kubectl apply`. */
  namespace?: string;
  /** Registry prefix (HOST[:PORT]/PATH) for the images of services that stack builds. */
  imageRegistry?: string;
  /** Type of the extra `<service>-public` Service for published ports; ClusterIP makes none. */
  serviceType: ServiceType;
  /** Digests of built images pushed by `--push` (registry reference → digest). */
  pushedDigests?: Record<string, string>;
}

export interface KubernetesExport {
  objects: KubeObject[];
  /** One warning per service (and per project-level setting) listing what was not translated. */
  warnings: string[];
}

/** Objects are ordered by kind in this order (what must exist first comes first), then by name. */
export const kindOrder = [
  "Namespace",
  "ServiceAccount",
  "Role",
  "RoleBinding",
  "Secret",
  "ConfigMap",
  "PersistentVolumeClaim",
  "Service",
  "Job",
  "StatefulSet",
  "Deployment",
] as const;

export function sortObjects(objects: KubeObject[]): KubeObject[] {
  const rank = (o: KubeObject) => kindOrder.indexOf(o.kind);
  return [...objects].sort((a, b) => rank(a) - rank(b) || (a.metadata!.name! < b.metadata!.name! ? -1 : a.metadata!.name! > b.metadata!.name! ? 1 : 0));
}

function checkOptions(options: KubernetesExportOptions): void {
  if (options.namespace !== undefined && !isDns1123Label(options.namespace)) {
    throw new InvalidInputError(`--namespace: "${options.namespace}" is not a valid namespace name`, { hint: "use lowercase letters, digits and '-', at most 63 characters" });
  }
  if (options.imageRegistry !== undefined && !/^[A-Za-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)*\/?$/.test(options.imageRegistry)) {
    throw new InvalidInputError(`--image-registry: "${options.imageRegistry}" is not a registry prefix`, { hint: "write HOST[:PORT][/PATH], e.g. registry.example.com/team" });
  }
}

function jobWaiterObjects(model: StackModel, name: string, namespace?: string): KubeObject[] {
  const meta = objectMeta({ name, namespace, project: model.name });
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta, rules: [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "list", "watch"] }] },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      // A ServiceAccount subject needs its namespace; without --namespace it is "default".
      subjects: [{ kind: "ServiceAccount", name, namespace: namespace ?? "default" }],
    },
  ];
}

function networkWarnings(model: StackModel): string[] {
  const own = Object.values(model.networks).filter((n) => !n.external).map((n) => n.key).sort();
  const warnings: string[] = [];
  if (own.length > 1) warnings.push(`networks ${own.join(", ")}: Kubernetes cannot carry over the separate networks: all pods share the cluster network (isolate them with NetworkPolicies)`);
  const tuned = Object.values(model.networks)
    .filter((n) => n.internal || n.ipam.config.length > 0 || Object.keys(n.driver_opts).length > 0 || n.enable_ipv6 || n.driver !== "bridge")
    .map((n) => n.key)
    .sort();
  if (tuned.length > 0) warnings.push(`networks ${tuned.join(", ")}: Kubernetes cannot carry over driver, ipam, internal and ipv6 settings`);
  return warnings;
}

function volumeWarnings(model: StackModel): string[] {
  return Object.values(model.volumes)
    .filter((v) => !v.external && (v.driver !== "local" || Object.keys(v.driver_opts).length > 0))
    .sort((a, b) => (a.key < b.key ? -1 : 1))
    .map((v) => `volumes.${v.key}: Kubernetes cannot carry over driver "${v.driver}" and driver_opts (choose a storage class with x-kubernetes.storage_class)`);
}

function checkUniqueNames(objects: KubeObject[]): void {
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata!.name}`;
    if (seen.has(id)) {
      throw new InvalidInputError(`two objects would be named ${id}`, { hint: "rename one of the services, volumes, configs or secrets (derived names: <service>-env, <service>-public; _ becomes -)" });
    }
    seen.add(id);
  }
}

export function exportKubernetes(model: StackModel, options: KubernetesExportOptions, sources: ExportSources): KubernetesExport {
  checkOptions(options);
  const names = Object.keys(model.services).sort();
  for (const name of names) checkServiceName(name, publicSuffix.length);
  const plan = planStack(model);
  const settings = projectSettings(model);
  const namespace = options.namespace;
  const ctx: WorkloadContext = {
    model,
    plan,
    settings,
    namespace,
    imageRegistry: options.imageRegistry,
    builtImages: builtImages(model),
    ...(options.pushedDigests ? { pushedDigests: options.pushedDigests } : {}),
    jobWaiterAccount: `${objectNameFor(projectLabelValue(model.name), "name").slice(0, 50).replace(/-+$/, "")}-job-waiter`,
  };
  const objects: KubeObject[] = [];
  const warnings: string[] = [...networkWarnings(model), ...volumeWarnings(model)];
  let waitsForJobs = false;
  const reached = new Set(names.flatMap((n) => [...Object.keys(model.services[n]!.depends_on), ...model.services[n]!.links.map((l) => l.service)]));
  for (const name of names) {
    const service = model.services[name]!;
    const notes = [...untranslatedSettings(service), ...(plan.portNotes.get(name) ?? [])];
    if (reached.has(name) && plan.workloads.get(name) !== "Job" && (plan.ports.get(name) ?? []).length === 0) {
      notes.push(`no ports or expose, so no Service is made and other pods cannot reach "${name}" by name (list its ports under expose:)`);
    }
    const workload = workloadFor(ctx, service, notes);
    objects.push(workload);
    if (workload.spec?.template.spec?.serviceAccountName === ctx.jobWaiterAccount) waitsForJobs = true;
    const cluster = clusterService(model, service, plan.ports.get(name) ?? [], namespace);
    if (cluster) objects.push(cluster);
    const pub = publicService(model, service, options.serviceType, notes, namespace);
    if (pub) objects.push(pub);
    if (environmentInConfigMap(service)) {
      objects.push({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: objectMeta({ name: envConfigMapName(name), namespace, project: model.name, base: selectorLabels(model.name, name) }),
        data: Object.fromEntries(environmentOf(service)),
      });
    }
    if (notes.length > 0) warnings.push(`services.${name}: Kubernetes cannot carry over: ${[...new Set(notes)].join("; ")}`);
  }
  if (waitsForJobs) objects.push(...jobWaiterObjects(model, ctx.jobWaiterAccount, namespace));
  objects.push(...claimObjects(model, plan, namespace), ...configMapObjects(model, sources, warnings, namespace), ...secretObjects(model, sources, warnings, namespace));
  if (namespace) objects.push({ apiVersion: "v1", kind: "Namespace", metadata: objectMeta({ name: namespace, project: model.name }) });
  const sorted = sortObjects(objects);
  checkUniqueNames(sorted);
  return { objects: sorted, warnings };
}
