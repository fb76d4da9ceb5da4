// Restart policies as a pure decision: given the policy, what happened so far
// and how the container just ended, restart or not, and after how long.
// Back-off like Docker's: 100 ms, doubling per restart, capped at 1 min, and
// back to 100 ms once a run lasted at least 10 s.
import type { RestartPolicy, ServiceModel } from "../schema/model.js";

export type RestartCondition = "never" | "always" | "unless-stopped" | "on-failure";

export interface RestartSpec {
  condition: RestartCondition;
  /** Restarts allowed (on-failure:N, deploy max_attempts); undefined = unlimited. */
  maxAttempts?: number;
  /** A fixed delay (deploy.restart_policy.delay) instead of the back-off. */
  delayMs?: number;
  /** deploy window: only restarts within this span count toward maxAttempts. */
  windowMs?: number;
}

export interface RestartHistory {
  /** Restarts done by the supervisor since the engine (re)started the container. */
  restarts: number;
  /** The delay used before the last restart; 0 before the first. */
  lastDelayMs: number;
  /** When each restart happened (ms since epoch), for deploy windows. */
  restartTimes: number[];
}

export interface ExitFacts {
  exitCode: number;
  /** How long the run that just ended lasted. */
  ranMs: number;
  /** The user stopped it (stop, down): never restarted. */
  stoppedByUser: boolean;
  now: number;
}

export type RestartDecision = { restart: false; reason: string } | { restart: true; delayMs: number };

export const BACKOFF_INITIAL_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
export const BACKOFF_RESET_AFTER_MS = 10_000;

export const emptyHistory = (): RestartHistory => ({ restarts: 0, lastDelayMs: 0, restartTimes: [] });

export function decideRestart(spec: RestartSpec, history: RestartHistory, exit: ExitFacts): RestartDecision {
  if (exit.stoppedByUser) return { restart: false, reason: "stopped by the user" };
  if (spec.condition === "never") return { restart: false, reason: "restart policy is no" };
  if (spec.condition === "on-failure" && exit.exitCode === 0) return { restart: false, reason: "exited 0 under on-failure" };
  if (spec.maxAttempts !== undefined) {
    const counted = spec.windowMs === undefined ? history.restarts : history.restartTimes.filter((t) => exit.now - t < spec.windowMs!).length;
    if (counted >= spec.maxAttempts) return { restart: false, reason: `gave up after ${counted} restarts` };
  }
  if (spec.delayMs !== undefined) return { restart: true, delayMs: spec.delayMs };
  const delayMs =
    exit.ranMs >= BACKOFF_RESET_AFTER_MS || history.lastDelayMs === 0 ? BACKOFF_INITIAL_MS : Math.min(history.lastDelayMs * 2, BACKOFF_MAX_MS);
  return { restart: true, delayMs };
}

/** The history after a restart decided with `delayMs` happened at `now`. */
export function recordRestart(history: RestartHistory, delayMs: number, now: number, keep = 50): RestartHistory {
  return { restarts: history.restarts + 1, lastDelayMs: delayMs, restartTimes: [...history.restartTimes, now].slice(-keep) };
}

/** A service's `restart` and `deploy.restart_policy` (which wins when present, as in Compose). */
export function restartSpecOf(service: Pick<ServiceModel, "restart" | "deploy">): RestartSpec {
  const rp = service.deploy?.restart_policy;
  if (rp) {
    const condition: RestartCondition = rp.condition === "none" ? "never" : rp.condition === "any" ? "always" : "on-failure";
    return { condition, maxAttempts: rp.max_attempts, delayMs: rp.delay, windowMs: rp.window };
  }
  return restartSpecOfPolicy(service.restart);
}

export function restartSpecOfPolicy(policy: RestartPolicy): RestartSpec {
  if (policy === "no") return { condition: "never" };
  if (policy === "always" || policy === "unless-stopped") return { condition: policy };
  const m = /^on-failure(?::(\d+))?$/.exec(policy);
  return m?.[1] !== undefined ? { condition: "on-failure", maxAttempts: Number(m[1]) } : { condition: "on-failure" };
}
