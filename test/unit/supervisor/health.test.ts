import { describe, expect, it } from "vitest";
import { applyProbe, healthSpecOf, initialHealth, nextProbeDelay, type HealthSpec, type HealthState } from "../../../src/supervisor/health.js";
import type { HealthcheckModel } from "../../../src/schema/model.js";

const spec: HealthSpec = { argv: ["true"], intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 10_000, startIntervalMs: 5_000 };
const probe = (start: number, exitCode: number, output = "") => ({ start, end: start + 5, exitCode, output });

/** Runs probes (time, exit code) from a container started at 0 and returns the statuses after each. */
function run(s: HealthSpec, probes: Array<[number, number]>, from: HealthState = initialHealth(0)): string[] {
  let st = from;
  return probes.map(([t, code]) => {
    st = applyProbe(s, st, probe(t, code));
    return `${st.status}/${st.failingStreak}`;
  });
}

describe("health state machine", () => {
  const cases: Array<{ name: string; spec: HealthSpec; probes: Array<[number, number]>; expected: string[] }> = [
    { name: "passes → healthy", spec, probes: [[11_000, 0]], expected: ["healthy/0"] },
    { name: "failures in the start period do not count", spec, probes: [[1_000, 1], [6_000, 1], [9_000, 1]], expected: ["starting/0", "starting/0", "starting/0"] },
    { name: "after the start period, retries failures make it unhealthy", spec, probes: [[11_000, 1], [41_000, 1], [71_000, 1]], expected: ["starting/1", "starting/2", "unhealthy/3"] },
    { name: "a success in the start period ends the grace", spec, probes: [[1_000, 0], [2_000, 1], [3_000, 2], [4_000, 1]], expected: ["healthy/0", "healthy/1", "healthy/2", "unhealthy/3"] },
    { name: "a success resets the streak", spec, probes: [[11_000, 1], [12_000, 1], [13_000, 0], [14_000, 1]], expected: ["starting/1", "starting/2", "healthy/0", "healthy/1"] },
    { name: "unhealthy recovers", spec: { ...spec, retries: 1, startPeriodMs: 0 }, probes: [[1, 1], [2, 0]], expected: ["unhealthy/1", "healthy/0"] },
    { name: "timeout (-1) is a failure", spec: { ...spec, retries: 1, startPeriodMs: 0 }, probes: [[1, -1]], expected: ["unhealthy/1"] },
  ];
  for (const c of cases) it(c.name, () => expect(run(c.spec, c.probes)).toEqual(c.expected));

  it("keeps the last 5 results, output truncated", () => {
    let st = initialHealth(0);
    for (let i = 0; i < 7; i++) st = applyProbe(spec, st, probe(i, 0, `${i}`.repeat(5000)));
    expect(st.log.map((l) => l.output[0])).toEqual(["2", "3", "4", "5", "6"]);
    expect(st.log[0]!.output.length).toBe(4096);
  });

  it("probes every start_interval during the start period while starting, else every interval", () => {
    expect(nextProbeDelay(spec, initialHealth(0), 1000)).toBe(5000);
    expect(nextProbeDelay(spec, initialHealth(0), 10_000)).toBe(30_000);
    expect(nextProbeDelay(spec, { ...initialHealth(0), status: "healthy" }, 1000)).toBe(30_000);
  });

  it("a restart starts over (initialHealth)", () => {
    expect(initialHealth(500)).toEqual({ status: "starting", failingStreak: 0, startedAt: 500, log: [] });
  });
});

describe("healthSpecOf", () => {
  const base: HealthcheckModel = { test: [], interval: 30_000, timeout: 30_000, retries: 3, start_period: 0, start_interval: 5_000, disable: false };
  const cases: Array<{ name: string; input: HealthcheckModel | undefined; expected: string[] | undefined }> = [
    { name: "CMD", input: { ...base, test: ["CMD", "curl", "-f", "http://localhost"] }, expected: ["curl", "-f", "http://localhost"] },
    { name: "CMD-SHELL", input: { ...base, test: ["CMD-SHELL", "pg_isready || exit 1"] }, expected: ["/bin/sh", "-c", "pg_isready || exit 1"] },
    { name: "NONE", input: { ...base, test: ["NONE"] }, expected: undefined },
    { name: "disable", input: { ...base, test: ["CMD", "true"], disable: true }, expected: undefined },
    { name: "absent", input: undefined, expected: undefined },
    { name: "CMD without argv", input: { ...base, test: ["CMD"] }, expected: undefined },
  ];
  for (const c of cases) it(c.name, () => expect(healthSpecOf(c.input)?.argv).toEqual(c.expected));
  it("copies the timings", () => {
    expect(healthSpecOf({ ...base, test: ["CMD", "true"], retries: 0, start_period: 7 })).toEqual({ argv: ["true"], intervalMs: 30_000, timeoutMs: 30_000, retries: 1, startPeriodMs: 7, startIntervalMs: 5_000 });
  });
});
