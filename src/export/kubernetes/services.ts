// Services: how other pods (and the outside) reach a service.
//
// Every service that publishes or exposes a port gets a ClusterIP Service
// named after it, serving the container ports (`ports` targets and `expose`),
// so `db:5432` resolves and connects inside the cluster exactly as it does
// between Compose containers. With --service-type NodePort or LoadBalancer,
// a service with published ports also gets `<service>-public` of that type,
// serving each published port (the container port when none was given) and
// forwarding to the container port; a NodePort keeps the published number as
// its nodePort when it is in the default node-port range 30000-32767.
import type { IService } from "kubernetes-models/v1/Service";
import type { ServiceModel, StackModel } from "../../schema/model.js";
import { objectMeta, selectorLabels } from "./metadata.js";
import type { PortSpec } from "./plan.js";

export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer";
export const serviceTypes: ServiceType[] = ["ClusterIP", "NodePort", "LoadBalancer"];
export const publicSuffix = "-public";

type ServicePort = NonNullable<NonNullable<IService["spec"]>["ports"]>[number];

const ianaName = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

function portName(spec: { port: number; protocol: string; name?: string }): string {
  return spec.name && ianaName.test(spec.name) && !/--/.test(spec.name) && /[a-z]/.test(spec.name) ? spec.name : `${spec.protocol.toLowerCase()}-${spec.port}`;
}

function uniqueNames(ports: ServicePort[]): ServicePort[] {
  const seen = new Set<string>();
  return ports.map((p) => {
    let name = p.name!;
    if (seen.has(name)) name = `${p.protocol!.toLowerCase()}-${p.port}`;
    seen.add(name);
    return { ...p, name };
  });
}

export function clusterService(model: StackModel, service: ServiceModel, ports: PortSpec[], namespace?: string): IService | undefined {
  if (ports.length === 0) return undefined;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: objectMeta({ name: service.name, namespace, project: model.name, base: selectorLabels(model.name, service.name), user: service.labels }),
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(model.name, service.name),
      ports: uniqueNames(
        ports.map((p) => ({ name: portName(p), port: p.port, targetPort: p.port, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) })),
      ),
    },
  };
}

export function publicService(model: StackModel, service: ServiceModel, type: ServiceType, notes: string[], namespace?: string): IService | undefined {
  if (type === "ClusterIP" || service.ports.length === 0) return undefined;
  const ports = new Map<string, ServicePort>();
  for (const p of service.ports) {
    let published = p.target;
    if (p.published !== undefined && /^[0-9]+$/.test(p.published)) published = Number(p.published);
    else if (p.published !== undefined) notes.push(`published port range "${p.published}" for ${p.target} (served on ${p.target})`);
    const protocol = p.protocol.toUpperCase() as "TCP" | "UDP" | "SCTP";
    const key = `${published}/${protocol}`;
    if (ports.has(key)) continue;
    const nodePort = type === "NodePort" && published >= 30000 && published <= 32767 ? { nodePort: published } : {};
    ports.set(key, { name: `${protocol.toLowerCase()}-${published}`, port: published, targetPort: p.target, protocol, ...nodePort });
  }
  const sorted = [...ports.values()].sort((a, b) => a.port - b.port || (a.protocol! < b.protocol! ? -1 : 1));
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: objectMeta({ name: `${service.name}${publicSuffix}`, namespace, project: model.name, base: selectorLabels(model.name, service.name), user: service.labels }),
    spec: { type, selector: selectorLabels(model.name, service.name), ports: sorted },
  };
}
