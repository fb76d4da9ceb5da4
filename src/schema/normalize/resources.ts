// Top-level networks, volumes, secrets and configs → their models. Real
// names are `<project>_<key>` unless `name:` is given; an external resource
// keeps the name it already has (`name:`, the obsolete `external.name`, or the key).
import type { IpamConfigModel, NetworkModel, SecretOrConfigModel, VolumeModel } from "../model.js";
import { hostPath, type NormalizeContext } from "./context.js";
import { readers, sortKeys, stringMap } from "./units.js";

type Raw = Record<string, unknown>;

function externalOf(ctx: NormalizeContext, path: string[], raw: Raw): { external: boolean; name?: string } {
  const e = raw.external;
  if (e !== null && typeof e === "object") {
    const name = (e as Raw).name;
    return { external: true, ...(typeof name === "string" ? { name } : {}) };
  }
  return { external: readers(ctx).bool([...path, "external"], e) ?? false };
}

function realName(ctx: NormalizeContext, key: string, raw: Raw, ext: { external: boolean; name?: string }): string {
  if (typeof raw.name === "string") return raw.name;
  if (ext.external) return ext.name ?? key;
  return `${ctx.project}_${key}`;
}

export function defaultNetwork(project: string): NetworkModel {
  return { key: "default", name: `${project}_default`, driver: "bridge", driver_opts: {}, external: false, internal: false, attachable: false, enable_ipv6: false, ipam: { config: [], options: {} }, labels: {} };
}

export function normalizeNetwork(ctx: NormalizeContext, key: string, value: unknown): NetworkModel {
  const raw = (value ?? {}) as Raw;
  const path = ["networks", key];
  const r = readers(ctx);
  const ext = externalOf(ctx, path, raw);
  const ipamRaw = (raw.ipam ?? {}) as Raw;
  const config: IpamConfigModel[] = Array.isArray(ipamRaw.config)
    ? (ipamRaw.config as Raw[]).map((c) => {
        const out: IpamConfigModel = { aux_addresses: stringMap(c?.aux_addresses) };
        for (const k of ["subnet", "ip_range", "gateway"] as const) if (typeof c?.[k] === "string") out[k] = c[k] as string;
        return out;
      })
    : [];
  const driverOpts = stringMap(raw.driver_opts);
  const net: NetworkModel = {
    key,
    name: realName(ctx, key, raw, ext),
    driver: typeof raw.driver === "string" ? raw.driver : "bridge",
    driver_opts: driverOpts,
    external: ext.external,
    internal: r.bool([...path, "internal"], raw.internal) ?? false,
    attachable: r.bool([...path, "attachable"], raw.attachable) ?? false,
    enable_ipv6: r.bool([...path, "enable_ipv6"], raw.enable_ipv6) ?? false,
    ipam: { config, options: stringMap(ipamRaw.options) },
    labels: stringMap(raw.labels),
  };
  if (typeof ipamRaw.driver === "string") net.ipam.driver = ipamRaw.driver;
  const mtu = driverOpts["com.docker.network.driver.mtu"];
  if (mtu !== undefined && /^\d+$/.test(mtu)) net.mtu = Number(mtu);
  return net;
}

export function normalizeVolume(ctx: NormalizeContext, key: string, value: unknown): VolumeModel {
  const raw = (value ?? {}) as Raw;
  const ext = externalOf(ctx, ["volumes", key], raw);
  return {
    key,
    name: realName(ctx, key, raw, ext),
    driver: typeof raw.driver === "string" ? raw.driver : "local",
    driver_opts: stringMap(raw.driver_opts),
    external: ext.external,
    labels: stringMap(raw.labels),
  };
}

export function normalizeSecretOrConfig(ctx: NormalizeContext, kind: "secrets" | "configs", key: string, value: unknown): SecretOrConfigModel {
  const raw = (value ?? {}) as Raw;
  const ext = externalOf(ctx, [kind, key], raw);
  const out: SecretOrConfigModel = { key, name: realName(ctx, key, raw, ext), external: ext.external, labels: stringMap(raw.labels) };
  if (typeof raw.file === "string") out.file = hostPath(ctx, raw.file);
  if (typeof raw.content === "string") out.content = raw.content;
  if (typeof raw.environment === "string") out.environment = raw.environment;
  return out;
}

/** Every entry of a top-level section (x-* keys skipped), sorted by key. */
export function normalizeSection<T>(value: unknown, each: (key: string, v: unknown) => T): Record<string, T> {
  const out: Record<string, T> = {};
  if (value === null || typeof value !== "object") return out;
  for (const [k, v] of Object.entries(value as Raw)) if (!k.startsWith("x-")) out[k] = each(k, v);
  return sortKeys(out);
}
