import { describe, expect, test } from "vitest";
import { cgroupSettings, serviceLimits, type Limits } from "../../../src/runtime/cgroup-settings.js";
import type { ServiceModel } from "../../../src/schema/model.js";
import { makeService } from "../../helpers/model.js";

const MiB = 1024 * 1024;
const deploy = (limits: object, reservations: object = {}): ServiceModel["deploy"] => ({ labels: {}, resources: { limits, reservations } });

describe("serviceLimits", () => {
  const cases: Array<{ name: string; service: Partial<ServiceModel>; expected: Limits }> = [
    { name: "nothing", service: {}, expected: {} },
    { name: "mem_limit gets as much swap again (Docker)", service: { mem_limit: 64 * MiB }, expected: { memory: 64 * MiB, memorySwap: 128 * MiB } },
    { name: "memswap_limit = mem_limit: no swap", service: { mem_limit: 64 * MiB, memswap_limit: 64 * MiB }, expected: { memory: 64 * MiB, memorySwap: 64 * MiB } },
    { name: "unlimited swap", service: { mem_limit: 64 * MiB, memswap_limit: -1 }, expected: { memory: 64 * MiB, memorySwap: -1 } },
    { name: "cpus → quota over the default period", service: { cpus: 1.5 }, expected: { cpuPeriod: 100000, cpuQuota: 150000 } },
    { name: "cpus with a custom period", service: { cpus: 0.5, cpu_period: 50000 }, expected: { cpuPeriod: 50000, cpuQuota: 25000 } },
    { name: "cpu_quota wins over cpus", service: { cpus: 2, cpu_quota: 30000 }, expected: { cpuPeriod: 100000, cpuQuota: 30000 } },
    { name: "shares, cpuset, pids, swappiness, reservation", service: { cpu_shares: 512, cpuset: "0-1", pids_limit: 100, mem_swappiness: 0, mem_reservation: 32 * MiB, oom_kill_disable: true }, expected: { cpuShares: 512, cpuset: "0-1", pids: 100, swappiness: 0, memoryReservation: 32 * MiB, oomKillDisable: true } },
    { name: "deploy.resources win over the legacy keys", service: { mem_limit: 64 * MiB, cpus: 2, pids_limit: 5, mem_reservation: MiB * 8, deploy: deploy({ memory: 128 * MiB, cpus: 0.25, pids: 50 }, { memory: 16 * MiB }) }, expected: { memory: 128 * MiB, memorySwap: 256 * MiB, cpuPeriod: 100000, cpuQuota: 25000, pids: 50, memoryReservation: 16 * MiB } },
  ];
  test.each(cases)("$name", ({ service, expected }) => {
    expect(serviceLimits(makeService("db", service))).toEqual(expected);
  });

  const errors: Array<{ name: string; service: Partial<ServiceModel>; message: RegExp }> = [
    { name: "tiny memory", service: { mem_limit: 1024 }, message: /services\.db\.mem_limit: 1024 bytes is below the 6 MiB minimum/ },
    { name: "memswap below memory", service: { mem_limit: 64 * MiB, memswap_limit: 32 * MiB }, message: /memswap_limit: 33554432 is below mem_limit/ },
    { name: "memswap without memory", service: { memswap_limit: 32 * MiB }, message: /memswap_limit: set without mem_limit/ },
    { name: "bad cpuset", service: { cpuset: "0-a" }, message: /cpuset: "0-a" is not a CPU list/ },
  ];
  test.each(errors)("error: $name", ({ service, message }) => {
    expect(() => serviceLimits(makeService("db", service))).toThrow(message);
  });
});

describe("cgroupSettings", () => {
  const all: Limits = { memory: 64 * MiB, memorySwap: 128 * MiB, memoryReservation: 32 * MiB, cpuShares: 1024, cpuPeriod: 100000, cpuQuota: 50000, cpuset: "0", pids: 10, swappiness: 10, oomKillDisable: true };
  test("v1: controller files, memory before memsw", () => {
    expect(cgroupSettings(all, 1)).toEqual([
      { file: "memory/memory.limit_in_bytes", value: "67108864" },
      { file: "memory/memory.memsw.limit_in_bytes", value: "134217728" },
      { file: "memory/memory.soft_limit_in_bytes", value: "33554432" },
      { file: "memory/memory.swappiness", value: "10" },
      { file: "memory/memory.oom_control", value: "1" },
      { file: "cpu/cpu.shares", value: "1024" },
      { file: "cpu/cpu.cfs_period_us", value: "100000" },
      { file: "cpu/cpu.cfs_quota_us", value: "50000" },
      { file: "cpuset/cpuset.cpus", value: "0" },
      { file: "pids/pids.max", value: "10" },
    ]);
  });
  test("v2: unified files; swap.max is the swap part only; shares → weight", () => {
    expect(cgroupSettings(all, 2)).toEqual([
      { file: "memory.max", value: "67108864" },
      { file: "memory.swap.max", value: "67108864" },
      { file: "memory.low", value: "33554432" },
      { file: "cpu.weight", value: "39" },
      { file: "cpu.max", value: "50000 100000" },
      { file: "cpuset.cpus", value: "0" },
      { file: "pids.max", value: "10" },
    ]);
  });
  test("unlimited values", () => {
    expect(cgroupSettings({ memory: 64 * MiB, memorySwap: -1, pids: 0 }, 2)).toEqual([
      { file: "memory.max", value: "67108864" },
      { file: "memory.swap.max", value: "max" },
      { file: "pids.max", value: "max" },
    ]);
    expect(cgroupSettings({ pids: -1 }, 1)).toEqual([{ file: "pids/pids.max", value: "max" }]);
    expect(cgroupSettings({}, 1)).toEqual([]);
  });
});
