// Object metadata: names, the namespace, and the labels every object carries.
// Compose labels that Kubernetes would reject as labels (a value with spaces,
// longer than 63 characters…) are carried as annotations instead.
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { isAnnotationKey, isLabelKey, isLabelValue } from "./names.js";

export type ObjectMeta = NonNullable<IConfigMap["metadata"]>;

export const nameLabel = "app.kubernetes.io/name";
export const partOfLabel = "app.kubernetes.io/part-of";
export const managedByLabel = "app.kubernetes.io/managed-by";

/** The project name as a label value (must start and end with an alphanumeric). */
export function projectLabelValue(project: string): string {
  return project.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "").slice(0, 63) || "stack";
}

/** The labels that select a service's pods; never overridden by user labels. */
export function selectorLabels(project: string, service: string): Record<string, string> {
  return { [nameLabel]: service, [partOfLabel]: projectLabelValue(project) };
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Splits user labels into valid labels and the rest (carried as annotations). */
export function splitLabels(labels: Record<string, string>): { labels: Record<string, string>; annotations: Record<string, string> } {
  const out = { labels: {} as Record<string, string>, annotations: {} as Record<string, string> };
  for (const [k, v] of Object.entries(labels)) {
    if (isLabelKey(k) && isLabelValue(v)) out.labels[k] = v;
    else if (isAnnotationKey(k)) out.annotations[k] = v;
    else out.annotations[`stack.dev/label.${k.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "").slice(0, 40) || "x"}`] = `${k}=${v}`;
  }
  return out;
}

export interface MetaInput {
  name: string;
  namespace?: string;
  project: string;
  /** Base labels (selector labels for a service's objects). */
  base?: Record<string, string>;
  user?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function objectMeta(input: MetaInput): ObjectMeta {
  const user = splitLabels(input.user ?? {});
  const labels = sorted({ ...user.labels, [partOfLabel]: projectLabelValue(input.project), [managedByLabel]: "stack", ...input.base });
  const annotations = sorted({ ...user.annotations, ...input.annotations });
  return {
    name: input.name,
    ...(input.namespace ? { namespace: input.namespace } : {}),
    labels,
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}
