// Builds StackModel values for unit tests of pure stages: every field gets the
// normalized default, so a test states only what it is about.
import type { ServiceModel, StackModel } from "../../src/schema/model.js";
import { defaultService } from "../../src/schema/normalize/service.js";

export function makeService(name: string, over: Partial<ServiceModel> = {}): ServiceModel {
  return {
    ...defaultService(name),
    networks: { default: { aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} } },
    image: "busybox:stable",
    ...over,
  };
}

export function makeStack(services: ServiceModel[], over: Partial<StackModel> = {}): StackModel {
  return {
    name: "demo",
    project_dir: "/srv/demo",
    files: ["/srv/demo/compose.yaml"],
    profiles: [],
    services: Object.fromEntries(services.map((s) => [s.name, s])),
    disabled_services: {},
    networks: {
      default: { key: "default", name: "demo_default", driver: "bridge", driver_opts: {}, external: false, internal: false, attachable: false, enable_ipv6: false, ipam: { config: [], options: {} }, labels: {} },
    },
    volumes: {},
    secrets: {},
    configs: {},
    extensions: {},
    ...over,
  };
}

export function dep(condition: "service_started" | "service_healthy" | "service_completed_successfully" = "service_started", over: { required?: boolean; restart?: boolean } = {}) {
  return { condition, required: over.required ?? true, restart: over.restart ?? false };
}
