// The service settings that have no Kubernetes equivalent, as a table of
// named checks. Each check that fires adds one note; the notes of a service
// are reported together in one warning, so nothing is dropped silently.
import type { ServiceModel } from "../../schema/model.js";

type Check = (s: ServiceModel) => string | undefined;

const set = (value: unknown): boolean =>
  value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0) && !(typeof value === "object" && !Array.isArray(value) && Object.keys(value as object).length === 0);

function when(field: keyof ServiceModel, message: (s: ServiceModel) => string): Check {
  return (s) => (set(s[field]) ? message(s) : undefined);
}

const checks: Check[] = [
  (s) => (s.network_mode !== undefined && s.network_mode !== "bridge" && s.network_mode !== "default" ? `network_mode "${s.network_mode}" (pods use the cluster network)` : undefined),
  when("container_name", (s) => `container_name "${s.container_name}" (pods are named by their controller; other pods reach it as "${s.name}")`),
  when("domainname", (s) => `domainname "${s.domainname}"`),
  when("mac_address", (s) => `mac_address "${s.mac_address}"`),
  (s) => {
    const aliased = s.links.filter((l) => l.alias !== l.service).map((l) => `${l.service}:${l.alias}`);
    return aliased.length > 0 ? `link aliases ${aliased.join(", ")} (reach linked services by their service name)` : undefined;
  },
  when("external_links", (s) => `external_links ${s.external_links.join(", ")}`),
  when("volumes_from", (s) => `volumes_from ${s.volumes_from.map((v) => v.name).join(", ")} (share a named volume instead)`),
  (s) => {
    const extras: string[] = [];
    for (const [net, cfg] of Object.entries(s.networks ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (cfg.aliases.length > 0) extras.push(`networks.${net}.aliases ${cfg.aliases.join(", ")}`);
      if (cfg.ipv4_address) extras.push(`networks.${net}.ipv4_address ${cfg.ipv4_address}`);
      if (cfg.ipv6_address) extras.push(`networks.${net}.ipv6_address ${cfg.ipv6_address}`);
      if (cfg.mac_address) extras.push(`networks.${net}.mac_address ${cfg.mac_address}`);
    }
    return extras.length > 0 ? extras.join(", ") : undefined;
  },
  (s) => {
    const hosts = s.ports.filter((p) => p.host_ip !== undefined).map((p) => `${p.host_ip}:${p.target}`);
    return hosts.length > 0 ? `host_ip of ports ${hosts.join(", ")} (Services listen on every address)` : undefined;
  },
  when("devices", (s) => `devices ${s.devices.map((d) => d.source).join(", ")}`),
  when("device_cgroup_rules", () => "device_cgroup_rules"),
  when("ulimits", (s) => `ulimits ${Object.keys(s.ulimits).sort().join(", ")} (set by the node's container runtime)`),
  (s) => {
    const opts = s.security_opt.filter((o) => !/^no-new-privileges(:true|=true)?$/.test(o));
    return opts.length > 0 ? `security_opt ${opts.join(", ")}` : undefined;
  },
  when("ipc", (s) => `ipc "${s.ipc}"`),
  when("pid", (s) => `pid "${s.pid}"`),
  when("uts", (s) => `uts "${s.uts}"`),
  when("userns_mode", (s) => `userns_mode "${s.userns_mode}"`),
  when("cgroup", (s) => `cgroup "${s.cgroup}"`),
  when("cgroup_parent", (s) => `cgroup_parent "${s.cgroup_parent}"`),
  when("runtime", (s) => `runtime "${s.runtime}" (use a RuntimeClass)`),
  when("oom_kill_disable", () => "oom_kill_disable"),
  when("oom_score_adj", () => "oom_score_adj"),
  when("mem_swappiness", () => "mem_swappiness"),
  when("memswap_limit", () => "memswap_limit"),
  when("cpu_shares", () => "cpu_shares (use deploy.resources.reservations.cpus)"),
  when("cpu_quota", () => "cpu_quota (use cpus)"),
  when("cpu_period", () => "cpu_period"),
  when("cpuset", () => "cpuset"),
  (s) => (s.pids_limit !== undefined || s.deploy?.resources.limits.pids !== undefined ? "pids limit (set per node by the kubelet)" : undefined),
  when("stop_signal", (s) => `stop_signal ${s.stop_signal} (Kubernetes sends SIGTERM; handle it or add a preStop hook)`),
  (s) => (s.init === true ? "init: true (add an init such as tini to the image)" : undefined),
  (s) => (s.logging?.driver !== undefined ? `logging driver "${s.logging.driver}" (the cluster collects container output)` : undefined),
  (s) => {
    const d = s.deploy;
    if (!d) return undefined;
    const parts: string[] = [];
    if (d.mode !== undefined && d.mode !== "replicated") parts.push(`deploy.mode "${d.mode}"`);
    if (d.placement !== undefined) parts.push("deploy.placement");
    if (d.restart_policy !== undefined) parts.push("deploy.restart_policy");
    if (d.update_config !== undefined) parts.push("deploy.update_config");
    if (d.rollback_config !== undefined) parts.push("deploy.rollback_config");
    if (d.endpoint_mode !== undefined) parts.push("deploy.endpoint_mode");
    if (set(d.resources.reservations.devices)) parts.push("deploy.resources.reservations.devices");
    return parts.length > 0 ? parts.join(", ") : undefined;
  },
];

/** Notes for the settings of a service that the export cannot carry over. */
export function untranslatedSettings(service: ServiceModel): string[] {
  return checks.map((c) => c(service)).filter((n): n is string => n !== undefined);
}
