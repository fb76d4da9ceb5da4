// Resource limits of a service as cgroup file writes, per cgroup version.
// deploy.resources.limits/reservations win over the legacy top-level keys.
// The list is ordered: on v1 memory.limit_in_bytes must be written before
// memory.memsw.limit_in_bytes (the kernel wants memsw >= memory).
// Files are relative to the container's cgroup dir; on v1 they are prefixed
// with their controller ("memory/memory.limit_in_bytes").
import { InvalidInputError } from "../errors.js";
import type { ServiceModel } from "../schema/model.js";

export type CgroupVersion = 1 | 2;

export interface CgroupWrite {
  file: string;
  value: string;
}

export const DEFAULT_CPU_PERIOD = 100_000;

export interface Limits {
  memory?: number;
  memorySwap?: number; // memory + swap; -1 = unlimited
  memoryReservation?: number;
  swappiness?: number;
  oomKillDisable?: boolean;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpuShares?: number;
  cpuset?: string;
  pids?: number; // <= 0 = unlimited
}

type LimitFields = Pick<
  ServiceModel,
  "name" | "deploy" | "mem_limit" | "memswap_limit" | "mem_reservation" | "mem_swappiness" | "oom_kill_disable" | "cpus" | "cpu_shares" | "cpu_quota" | "cpu_period" | "cpuset" | "pids_limit"
>;

export function serviceLimits(service: LimitFields): Limits {
  const base = `services.${service.name}`;
  const limits = service.deploy?.resources.limits ?? {};
  const reservations = service.deploy?.resources.reservations ?? {};
  const out: Limits = {};
  const memory = limits.memory ?? service.mem_limit;
  if (memory !== undefined) {
    if (memory < 6 * 1024 * 1024) {
      throw new InvalidInputError(`${base}.mem_limit: ${memory} bytes is below the 6 MiB minimum`, { hint: 'use at least "6m"' });
    }
    out.memory = memory;
  }
  if (service.memswap_limit !== undefined) {
    if (service.memswap_limit !== -1 && memory !== undefined && service.memswap_limit < memory) {
      throw new InvalidInputError(`${base}.memswap_limit: ${service.memswap_limit} is below mem_limit ${memory}`, {
        hint: "memswap_limit is memory plus swap: make it >= mem_limit, or -1 for unlimited swap",
      });
    }
    if (memory === undefined && service.memswap_limit !== -1) {
      throw new InvalidInputError(`${base}.memswap_limit: set without mem_limit`, { hint: "set mem_limit too" });
    }
    out.memorySwap = service.memswap_limit;
  } else if (memory !== undefined) {
    out.memorySwap = memory * 2; // Docker's default: as much swap as memory
  }
  const reservation = reservations.memory ?? service.mem_reservation;
  if (reservation !== undefined) out.memoryReservation = reservation;
  if (service.mem_swappiness !== undefined) out.swappiness = service.mem_swappiness;
  if (service.oom_kill_disable) out.oomKillDisable = true;
  const cpus = limits.cpus ?? service.cpus;
  if (service.cpu_period !== undefined) out.cpuPeriod = service.cpu_period;
  if (cpus !== undefined && cpus > 0) {
    out.cpuPeriod = out.cpuPeriod ?? DEFAULT_CPU_PERIOD;
    out.cpuQuota = Math.round(cpus * out.cpuPeriod);
  }
  if (service.cpu_quota !== undefined) {
    out.cpuQuota = service.cpu_quota;
    out.cpuPeriod = out.cpuPeriod ?? DEFAULT_CPU_PERIOD;
  }
  if (service.cpu_shares !== undefined) out.cpuShares = service.cpu_shares;
  if (service.cpuset !== undefined) {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(service.cpuset)) {
      throw new InvalidInputError(`${base}.cpuset: ${JSON.stringify(service.cpuset)} is not a CPU list`, { hint: 'write it like "0", "0-1" or "0,2"' });
    }
    out.cpuset = service.cpuset;
  }
  const pids = limits.pids ?? service.pids_limit;
  if (pids !== undefined) out.pids = pids;
  return out;
}

function max(v: number | undefined): string {
  return v === undefined || v < 0 ? "max" : String(v);
}

export function cgroupSettings(limits: Limits, version: CgroupVersion): CgroupWrite[] {
  const w: CgroupWrite[] = [];
  const add = (file: string, value: string | number) => w.push({ file, value: String(value) });
  if (version === 1) {
    if (limits.memory !== undefined) add("memory/memory.limit_in_bytes", limits.memory);
    if (limits.memorySwap !== undefined) add("memory/memory.memsw.limit_in_bytes", limits.memorySwap);
    if (limits.memoryReservation !== undefined) add("memory/memory.soft_limit_in_bytes", limits.memoryReservation);
    if (limits.swappiness !== undefined) add("memory/memory.swappiness", limits.swappiness);
    if (limits.oomKillDisable) add("memory/memory.oom_control", 1);
    if (limits.cpuShares !== undefined) add("cpu/cpu.shares", limits.cpuShares);
    if (limits.cpuPeriod !== undefined) add("cpu/cpu.cfs_period_us", limits.cpuPeriod);
    if (limits.cpuQuota !== undefined) add("cpu/cpu.cfs_quota_us", limits.cpuQuota);
    if (limits.cpuset !== undefined) add("cpuset/cpuset.cpus", limits.cpuset);
    if (limits.pids !== undefined) add("pids/pids.max", limits.pids > 0 ? limits.pids : "max");
  } else {
    if (limits.memory !== undefined) add("memory.max", limits.memory);
    if (limits.memorySwap !== undefined) {
      add("memory.swap.max", limits.memorySwap < 0 ? "max" : Math.max(0, limits.memorySwap - (limits.memory ?? 0)));
    }
    if (limits.memoryReservation !== undefined) add("memory.low", limits.memoryReservation);
    if (limits.cpuShares !== undefined) add("cpu.weight", 1 + Math.floor(((limits.cpuShares - 2) * 9999) / 262142));
    if (limits.cpuQuota !== undefined) add("cpu.max", `${max(limits.cpuQuota)} ${limits.cpuPeriod ?? DEFAULT_CPU_PERIOD}`);
    if (limits.cpuset !== undefined) add("cpuset.cpus", limits.cpuset);
    if (limits.pids !== undefined) add("pids.max", limits.pids > 0 ? limits.pids : "max");
  }
  return w;
}
