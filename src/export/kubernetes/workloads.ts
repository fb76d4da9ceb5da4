// One service → its workload object (Deployment, StatefulSet or Job) with the
// pod template: container, init containers that wait for dependencies,
// volumes, probes, resources and security settings.
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { InvalidInputError } from "../../errors.js";
import type { ServiceModel, StackModel } from "../../schema/model.js";
import type { ProjectSettings, WorkloadKind } from "./extension.js";
import { objectMeta, selectorLabels, splitLabels } from "./metadata.js";
import { isDns1123Label, objectNameFor } from "./names.js";
import type { StackPlan } from "./plan.js";
import { probeFor } from "./probes.js";
import { cpuQuantity, memoryQuantity, secondsFrom } from "./quantities.js";
import { splitShellWords } from "./shell-words.js";
import { claimSpec, podStorage } from "./storage.js";

export type WorkloadObject = IDeployment | IStatefulSet | IJob;

export interface WorkloadContext {
  model: StackModel;
  plan: StackPlan;
  settings: ProjectSettings;
  namespace?: string;
  imageRegistry?: string;
  /** Name of the ServiceAccount allowed to read Jobs (for pods that wait for one). */
  jobWaiterAccount: string;
  /** builtImages(model), computed once. */
  builtImages: Set<string>;
  /** Registry reference → manifest digest of the built images `--push` pushed: pods pin them by digest. */
  pushedDigests?: Record<string, string>;
}

/** The image names that services of the stack build (their `image:`, or `<project>-<service>`). */
export function builtImages(model: StackModel): Set<string> {
  return new Set(Object.values(model.services).flatMap((s) => (s.build ? [s.image ?? `${model.name}-${s.name}`] : [])));
}

/** Kubernetes expands $(VAR) in command, args and env values; Compose does not: keep them literal. */
function literal(text: string): string {
  return text.replace(/\$\(/g, "$$$$(");
}

function argv(value: string | string[] | undefined, path: string): string[] | undefined {
  if (value === undefined) return undefined;
  const words = typeof value === "string" ? splitShellWords(value, path) : value;
  return words.map(literal);
}

export function hasRegistryHost(image: string): boolean {
  const first = image.split("/")[0]!;
  return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
}

/**
 * The image a pod runs. An image that a service of the stack builds (its
 * `image:`, or the Compose default `<project>-<service>`) is prefixed with
 * --image-registry, in every service that runs it, unless it already names a
 * registry host; pulled images are kept as written.
 */
/** The name a built image has in the cluster's registry: under --image-registry unless it names a registry itself. */
export function registryImageName(name: string, imageRegistry: string | undefined): string {
  return imageRegistry && !hasRegistryHost(name) ? `${imageRegistry.replace(/\/+$/, "")}/${name}` : name;
}

export function imageFor(ctx: WorkloadContext, service: ServiceModel, notes: string[]): string {
  const name = service.image ?? (service.build ? `${ctx.model.name}-${service.name}` : undefined);
  if (name === undefined) throw new InvalidInputError(`services.${service.name}: has neither image nor build`, { hint: "give the service an image: or a build:" });
  if (!ctx.builtImages.has(name)) return name;
  const image = registryImageName(name, ctx.imageRegistry);
  const digest = ctx.pushedDigests?.[image];
  if (digest) return `${image.replace(/:[^/:]+$/, "")}@${digest}`;
  if (service.build) notes.push(`build (push the image "${image}" to a registry the cluster can pull from${ctx.imageRegistry ? "" : "; --image-registry names it"})`);
  return image;
}

const pullPolicies: Record<string, "Always" | "IfNotPresent" | "Never"> = { always: "Always", never: "Never", missing: "IfNotPresent", if_not_present: "IfNotPresent", build: "IfNotPresent" };

function pullPolicy(service: ServiceModel): "Always" | "IfNotPresent" | "Never" {
  return pullPolicies[service.pull_policy] ?? "Always";
}

/** The variables a service sets (declared-without-value ones are left out), sorted. */
export function environmentOf(service: ServiceModel): Array<[string, string]> {
  return Object.entries(service.environment)
    .filter((e): e is [string, string] => e[1] !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A service with env_file keeps its environment in the ConfigMap
 * `<service>-env` — unless a variable name is not a valid ConfigMap key
 * ([-._a-zA-Z0-9]+), then it stays inline like any other environment.
 */
export function environmentInConfigMap(service: ServiceModel): boolean {
  const entries = environmentOf(service);
  return service.env_file.length > 0 && entries.length > 0 && entries.every(([k]) => /^[-._a-zA-Z0-9]+$/.test(k));
}

function environment(service: ServiceModel): Pick<IContainer, "env" | "envFrom"> {
  const entries = environmentOf(service);
  if (entries.length === 0) return {};
  if (environmentInConfigMap(service)) return { envFrom: [{ configMapRef: { name: envConfigMapName(service.name) } }] };
  return { env: entries.map(([name, value]) => ({ name, value: literal(value) })) };
}

export function envConfigMapName(service: string): string {
  return `${service}-env`;
}

function resources(service: ServiceModel): IContainer["resources"] | undefined {
  const lim = service.deploy?.resources.limits ?? {};
  const res = service.deploy?.resources.reservations ?? {};
  const limits: Record<string, string> = {};
  const requests: Record<string, string> = {};
  const cpus = lim.cpus ?? service.cpus;
  const memory = lim.memory ?? service.mem_limit;
  if (cpus !== undefined && cpus > 0) limits.cpu = cpuQuantity(cpus);
  if (memory !== undefined && memory > 0) limits.memory = memoryQuantity(memory);
  if (res.cpus !== undefined && res.cpus > 0) requests.cpu = cpuQuantity(res.cpus);
  const reserved = res.memory ?? service.mem_reservation;
  if (reserved !== undefined && reserved > 0) requests.memory = memoryQuantity(reserved);
  if (Object.keys(limits).length === 0 && Object.keys(requests).length === 0) return undefined;
  return { ...(Object.keys(limits).length > 0 ? { limits } : {}), ...(Object.keys(requests).length > 0 ? { requests } : {}) };
}

function capability(name: string): string {
  return name.toUpperCase().replace(/^CAP_/, "");
}

function securityContext(service: ServiceModel, notes: string[]): IContainer["securityContext"] | undefined {
  const sc: NonNullable<IContainer["securityContext"]> = {};
  if (service.user !== undefined) {
    const m = /^([0-9]+)(?::([0-9]+))?$/.exec(service.user);
    if (m) {
      sc.runAsUser = Number(m[1]);
      if (m[2] !== undefined) sc.runAsGroup = Number(m[2]);
    } else {
      notes.push(`user "${service.user}" (Kubernetes needs a numeric uid[:gid])`);
    }
  }
  if (service.privileged) {
    sc.privileged = true;
    notes.push("privileged (mapped to securityContext.privileged; namespaces with the baseline or restricted Pod Security level reject it)");
  }
  if (service.security_opt.some((o) => /^no-new-privileges(:true|=true)?$/.test(o))) sc.allowPrivilegeEscalation = false;
  if (service.read_only) sc.readOnlyRootFilesystem = true;
  if (service.cap_add.length > 0 || service.cap_drop.length > 0) {
    sc.capabilities = {
      ...(service.cap_add.length > 0 ? { add: [...new Set(service.cap_add.map(capability))].sort() } : {}),
      ...(service.cap_drop.length > 0 ? { drop: [...new Set(service.cap_drop.map(capability))].sort() } : {}),
    };
  }
  return Object.keys(sc).length > 0 ? sc : undefined;
}

function commandAndArgs(service: ServiceModel, notes: string[]): Pick<IContainer, "command" | "args"> {
  const path = `services.${service.name}`;
  const command = argv(service.entrypoint, `${path}.entrypoint`);
  const args = argv(service.command, `${path}.command`);
  if (command !== undefined && command.length === 0) notes.push("entrypoint: [] (an empty command keeps the image's ENTRYPOINT in Kubernetes)");
  if (args !== undefined && args.length === 0 && command === undefined) notes.push("command: [] (empty args keep the image's CMD in Kubernetes)");
  return { ...(command && command.length > 0 ? { command } : {}), ...(args && args.length > 0 ? { args } : {}) };
}

/**
 * Init containers for depends_on. `service_started` and `service_healthy`
 * wait until the dependency's Service accepts a TCP connection (a Service only
 * routes to ready pods, so a dependency with a healthcheck is healthy by
 * then). `service_completed_successfully` waits, through the API, for the
 * dependency's Job to complete (the pod runs as the job-waiter account).
 */
function waitContainers(ctx: WorkloadContext, service: ServiceModel, notes: string[]): { containers: IContainer[]; needsJobAccess: boolean } {
  const containers: IContainer[] = [];
  let needsJobAccess = false;
  for (const [dep, d] of Object.entries(service.depends_on).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!ctx.model.services[dep]) {
      if (d.required) notes.push(`depends_on ${dep} (not among the exported services)`);
      continue;
    }
    const kind = ctx.plan.workloads.get(dep)!;
    const name = `wait-for-${dep}`.slice(0, 63).replace(/-+$/, "");
    if (d.condition === "service_completed_successfully") {
      if (kind !== "Job") {
        notes.push(`depends_on ${dep}: service_completed_successfully (${dep} runs as a ${kind}, which never completes)`);
        continue;
      }
      needsJobAccess = true;
      containers.push({ name, image: ctx.settings.kubectlImage, command: ["kubectl", "wait", "--for=condition=complete", "--timeout=-1s", `job/${dep}`] });
      continue;
    }
    if (kind === "Job") continue; // a Job starts as soon as it is applied
    const port = ctx.plan.ports.get(dep)?.find((p) => p.protocol === "TCP");
    if (!port) {
      notes.push(`depends_on ${dep}: ${d.condition} (${dep} serves no TCP port to wait for; add expose: to it)`);
      continue;
    }
    containers.push({
      name,
      image: ctx.settings.waitImage,
      command: ["sh", "-c", `until nc -z -w 2 ${dep} ${port.port}; do echo waiting for ${dep}:${port.port}; sleep 2; done`],
    });
  }
  return { containers, needsJobAccess };
}

function hostAliases(service: ServiceModel, notes: string[]): IPodSpec["hostAliases"] {
  const byIp = new Map<string, string[]>();
  for (const h of service.extra_hosts) {
    if (!/^[0-9.]+$|:/.test(h.ip)) {
      notes.push(`extra_hosts ${h.host}:${h.ip}`);
      continue;
    }
    byIp.set(h.ip, [...(byIp.get(h.ip) ?? []), h.host]);
  }
  if (byIp.size === 0) return undefined;
  return [...byIp.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([ip, hostnames]) => ({ ip, hostnames: [...new Set(hostnames)].sort() }));
}

function podSpec(ctx: WorkloadContext, service: ServiceModel, kind: WorkloadKind, notes: string[]): IPodSpec {
  const storage = podStorage(ctx.model, ctx.plan, service, notes);
  const health = probeFor(service.healthcheck, `services.${service.name}`);
  const ports = ctx.plan.ports.get(service.name) ?? [];
  const container: IContainer = {
    name: service.name,
    image: imageFor(ctx, service, notes),
    imagePullPolicy: pullPolicy(service),
    ...commandAndArgs(service, notes),
    ...(service.working_dir ? { workingDir: service.working_dir } : {}),
    ...environment(service),
    ...(ports.length > 0 ? { ports: ports.map((p) => ({ containerPort: p.port, protocol: p.protocol })) } : {}),
    ...(health ? { readinessProbe: health, livenessProbe: health } : {}),
  };
  const res = resources(service);
  if (res) container.resources = res;
  const sc = securityContext(service, notes);
  if (sc) container.securityContext = sc;
  if (storage.mounts.length > 0) container.volumeMounts = storage.mounts;
  if (service.tty) container.tty = true;
  if (service.stdin_open) container.stdin = true;

  const waits = waitContainers(ctx, service, notes);
  const spec: IPodSpec = { containers: [container] };
  if (waits.containers.length > 0) spec.initContainers = waits.containers;
  if (waits.needsJobAccess) spec.serviceAccountName = ctx.jobWaiterAccount;
  if (storage.volumes.length > 0) spec.volumes = storage.volumes;
  if (service.hostname !== undefined) {
    if (isDns1123Label(service.hostname)) spec.hostname = service.hostname;
    else notes.push(`hostname "${service.hostname}" (not a DNS label)`);
  }
  const aliases = hostAliases(service, notes);
  if (aliases) spec.hostAliases = aliases;
  if (service.dns.length > 0 || service.dns_search.length > 0 || service.dns_opt.length > 0) {
    spec.dnsConfig = {
      ...(service.dns.length > 0 ? { nameservers: service.dns } : {}),
      ...(service.dns_search.length > 0 ? { searches: service.dns_search } : {}),
      ...(service.dns_opt.length > 0
        ? { options: service.dns_opt.map((o) => (o.includes(":") ? { name: o.slice(0, o.indexOf(":")), value: o.slice(o.indexOf(":") + 1) } : { name: o })) }
        : {}),
    };
  }
  const sysctls = Object.entries(service.sysctls).sort(([a], [b]) => (a < b ? -1 : 1));
  const groups = service.group_add.filter((g) => /^[0-9]+$/.test(g)).map(Number);
  const namedGroups = service.group_add.filter((g) => !/^[0-9]+$/.test(g));
  if (namedGroups.length > 0) notes.push(`group_add ${namedGroups.join(", ")} (Kubernetes needs numeric group ids)`);
  if (sysctls.length > 0 || groups.length > 0) {
    spec.securityContext = {
      ...(groups.length > 0 ? { supplementalGroups: groups } : {}),
      ...(sysctls.length > 0 ? { sysctls: sysctls.map(([name, value]) => ({ name, value })) } : {}),
    };
  }
  if (service.stop_grace_period !== undefined) spec.terminationGracePeriodSeconds = secondsFrom(service.stop_grace_period, 0);
  if (service.platform !== undefined) {
    const [os, arch] = service.platform.split("/");
    spec.nodeSelector = { ...(os ? { "kubernetes.io/os": os } : {}), ...(arch ? { "kubernetes.io/arch": arch } : {}) };
  }
  if (kind === "Job") spec.restartPolicy = service.restart.startsWith("on-failure") || service.restart === "always" || service.restart === "unless-stopped" ? "OnFailure" : "Never";
  return spec;
}

function podAnnotations(service: ServiceModel): Record<string, string> | undefined {
  const fromLabels = splitLabels(service.labels).annotations;
  const all = { ...fromLabels, ...service.annotations };
  const keys = Object.keys(all).sort();
  return keys.length > 0 ? Object.fromEntries(keys.map((k) => [k, all[k]!])) : undefined;
}

/** The workload object of a service; `notes` collects what could not be translated. */
export function workloadFor(ctx: WorkloadContext, service: ServiceModel, notes: string[]): WorkloadObject {
  const kind = ctx.plan.workloads.get(service.name)!;
  const selector = selectorLabels(ctx.model.name, service.name);
  const meta = objectMeta({
    name: service.name,
    namespace: ctx.namespace,
    project: ctx.model.name,
    base: selector,
    user: { ...service.labels, ...(service.deploy?.labels ?? {}) },
  });
  const annotations = podAnnotations(service);
  const podMeta = { labels: objectMeta({ name: service.name, project: ctx.model.name, base: selector, user: service.labels }).labels, ...(annotations ? { annotations } : {}) };
  const template = { metadata: podMeta, spec: podSpec(ctx, service, kind, notes) };
  if (kind === "Job") {
    if (service.scale !== 1) notes.push(`scale ${service.scale} (the Job runs once)`);
    const m = /^on-failure:([0-9]+)$/.exec(service.restart);
    const backoffLimit = m ? Number(m[1]) : template.spec.restartPolicy === "Never" ? 0 : 6;
    return { apiVersion: "batch/v1", kind: "Job", metadata: meta, spec: { backoffLimit, template } };
  }
  if (kind === "StatefulSet") {
    const templates = (ctx.plan.claimTemplates.get(service.name) ?? []).map((key) => ({
      metadata: { name: objectNameFor(key, `volumes.${key}`), labels: objectMeta({ name: key, project: ctx.model.name, user: ctx.model.volumes[key]!.labels }).labels },
      spec: claimSpec(ctx.model, key),
    }));
    return {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: meta,
      spec: {
        serviceName: service.name,
        replicas: service.scale,
        selector: { matchLabels: selector },
        template,
        ...(templates.length > 0 ? { volumeClaimTemplates: templates } : {}),
      },
    };
  }
  // A Deployment that mounts a claim replaces its pods instead of rolling
  // them: a ReadWriteOnce volume cannot be attached to the old and new pod.
  const mountsClaim = (template.spec.volumes ?? []).some((v) => v.persistentVolumeClaim !== undefined);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta,
    spec: {
      replicas: service.scale,
      selector: { matchLabels: selector },
      ...(mountsClaim ? { strategy: { type: "Recreate" } } : {}),
      template,
    },
  };
}
