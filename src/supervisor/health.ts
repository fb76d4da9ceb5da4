// Healthchecks as a pure state machine, with Docker's rules:
// - status starts as "starting"; a passing probe makes it "healthy"; `retries`
//   failing probes in a row make it "unhealthy";
// - during start_period, failures do not count while the status is still
//   "starting", and probes run every start_interval instead of interval;
// - a restart resets the state (initialHealth again);
// - the last 5 probe results are kept (output truncated) for inspection.
import type { HealthcheckModel } from "../schema/model.js";

export type HealthStatus = "starting" | "healthy" | "unhealthy";

export interface HealthSpec {
  /** The argv to exec in the container: CMD → as written, CMD-SHELL → /bin/sh -c script. */
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  startIntervalMs: number;
}

export interface ProbeResult {
  start: number;
  end: number;
  exitCode: number;
  output: string;
}

export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
  /** When the container (re)started, ms since epoch: anchors start_period. */
  startedAt: number;
  log: ProbeResult[];
}

export const HEALTH_LOG_KEEP = 5;
export const HEALTH_OUTPUT_MAX = 4096;

/** The healthcheck of a service, or undefined when it has none (NONE, disable: true, no test). */
export function healthSpecOf(model: HealthcheckModel | undefined): HealthSpec | undefined {
  if (!model || model.disable || model.test.length === 0) return undefined;
  const [kind, ...rest] = model.test;
  let argv: string[];
  if (kind === "NONE") return undefined;
  if (kind === "CMD") argv = rest;
  else if (kind === "CMD-SHELL") argv = ["/bin/sh", "-c", rest.join(" ")];
  else argv = ["/bin/sh", "-c", model.test.join(" ")];
  if (argv.length === 0) return undefined;
  return {
    argv,
    intervalMs: model.interval,
    timeoutMs: model.timeout,
    retries: Math.max(1, model.retries),
    startPeriodMs: model.start_period,
    startIntervalMs: model.start_interval,
  };
}

export function initialHealth(startedAt: number): HealthState {
  return { status: "starting", failingStreak: 0, startedAt, log: [] };
}

function inStartPeriod(spec: HealthSpec, state: HealthState, now: number): boolean {
  return now < state.startedAt + spec.startPeriodMs;
}

/** How long to wait before the next probe. */
export function nextProbeDelay(spec: HealthSpec, state: HealthState, now: number): number {
  return state.status === "starting" && inStartPeriod(spec, state, now) ? spec.startIntervalMs : spec.intervalMs;
}

export function applyProbe(spec: HealthSpec, state: HealthState, result: ProbeResult): HealthState {
  const entry = { ...result, output: result.output.slice(0, HEALTH_OUTPUT_MAX) };
  const log = [...state.log, entry].slice(-HEALTH_LOG_KEEP);
  if (result.exitCode === 0) return { ...state, status: "healthy", failingStreak: 0, log };
  if (state.status === "starting" && inStartPeriod(spec, state, result.start)) return { ...state, log };
  const failingStreak = state.failingStreak + 1;
  return { ...state, failingStreak, status: failingStreak >= spec.retries ? "unhealthy" : state.status, log };
}
