import { describe, expect, it } from "vitest";
import { decideRestart, emptyHistory, recordRestart, restartSpecOf, restartSpecOfPolicy, type ExitFacts, type RestartHistory, type RestartSpec } from "../../../src/supervisor/restart-policy.js";

const exit = (over: Partial<ExitFacts> = {}): ExitFacts => ({ exitCode: 1, ranMs: 50, stoppedByUser: false, now: 1_000_000, ...over });
const hist = (restarts: number, lastDelayMs: number, restartTimes: number[] = []): RestartHistory => ({ restarts, lastDelayMs, restartTimes });

describe("decideRestart", () => {
  const cases: Array<{ name: string; spec: RestartSpec; history: RestartHistory; exit: ExitFacts; expected: ReturnType<typeof decideRestart> | { restart: false } }> = [
    { name: "no never restarts", spec: { condition: "never" }, history: emptyHistory(), exit: exit(), expected: { restart: false } },
    { name: "always: first restart after 100 ms", spec: { condition: "always" }, history: emptyHistory(), exit: exit({ exitCode: 0 }), expected: { restart: true, delayMs: 100 } },
    { name: "always: doubles", spec: { condition: "always" }, history: hist(3, 400), exit: exit(), expected: { restart: true, delayMs: 800 } },
    { name: "always: capped at 1 min", spec: { condition: "always" }, history: hist(20, 40_000), exit: exit(), expected: { restart: true, delayMs: 60_000 } },
    { name: "always: a run of 10 s resets the back-off", spec: { condition: "always" }, history: hist(9, 51_200), exit: exit({ ranMs: 10_000 }), expected: { restart: true, delayMs: 100 } },
    { name: "always: 9.9 s does not", spec: { condition: "always" }, history: hist(1, 100), exit: exit({ ranMs: 9_999 }), expected: { restart: true, delayMs: 200 } },
    { name: "always: stopped by the user", spec: { condition: "always" }, history: emptyHistory(), exit: exit({ stoppedByUser: true }), expected: { restart: false } },
    { name: "unless-stopped restarts like always", spec: { condition: "unless-stopped" }, history: hist(1, 100), exit: exit({ exitCode: 0 }), expected: { restart: true, delayMs: 200 } },
    { name: "unless-stopped: stopped by the user", spec: { condition: "unless-stopped" }, history: emptyHistory(), exit: exit({ stoppedByUser: true }), expected: { restart: false } },
    { name: "on-failure: exit 0 is not restarted", spec: { condition: "on-failure" }, history: emptyHistory(), exit: exit({ exitCode: 0 }), expected: { restart: false } },
    { name: "on-failure: exit 1 is", spec: { condition: "on-failure" }, history: emptyHistory(), exit: exit({ exitCode: 1 }), expected: { restart: true, delayMs: 100 } },
    { name: "on-failure: 137 (killed) is", spec: { condition: "on-failure" }, history: hist(1, 100), exit: exit({ exitCode: 137 }), expected: { restart: true, delayMs: 200 } },
    { name: "on-failure:3 under the limit", spec: { condition: "on-failure", maxAttempts: 3 }, history: hist(2, 200), exit: exit(), expected: { restart: true, delayMs: 400 } },
    { name: "on-failure:3 at the limit", spec: { condition: "on-failure", maxAttempts: 3 }, history: hist(3, 400), exit: exit(), expected: { restart: false } },
    { name: "on-failure:0 never restarts", spec: { condition: "on-failure", maxAttempts: 0 }, history: emptyHistory(), exit: exit(), expected: { restart: false } },
    { name: "deploy delay is fixed", spec: { condition: "always", delayMs: 5000 }, history: hist(4, 5000), exit: exit(), expected: { restart: true, delayMs: 5000 } },
    { name: "deploy window: old restarts do not count", spec: { condition: "on-failure", maxAttempts: 2, windowMs: 60_000 }, history: hist(5, 100, [1, 2, 3, 999_000]), exit: exit(), expected: { restart: true, delayMs: 200 } },
    { name: "deploy window: recent restarts count", spec: { condition: "on-failure", maxAttempts: 2, windowMs: 60_000 }, history: hist(2, 100, [990_000, 999_000]), exit: exit(), expected: { restart: false } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideRestart(c.spec, c.history, c.exit);
      if (c.expected.restart) expect(d).toEqual(c.expected);
      else expect(d.restart).toBe(false);
    });
  }

  it("gives a reason when it does not restart", () => {
    expect(decideRestart({ condition: "on-failure", maxAttempts: 3 }, hist(3, 400), exit())).toEqual({ restart: false, reason: "gave up after 3 restarts" });
  });

  it("recordRestart counts, remembers the delay and keeps the last times", () => {
    const h = recordRestart(recordRestart(emptyHistory(), 100, 10, 1), 200, 20, 1);
    expect(h).toEqual({ restarts: 2, lastDelayMs: 200, restartTimes: [20] });
  });
});

describe("restart specs from the model", () => {
  const cases: Array<{ name: string; input: Parameters<typeof restartSpecOf>[0]; expected: RestartSpec }> = [
    { name: "no", input: { restart: "no" }, expected: { condition: "never" } },
    { name: "always", input: { restart: "always" }, expected: { condition: "always" } },
    { name: "unless-stopped", input: { restart: "unless-stopped" }, expected: { condition: "unless-stopped" } },
    { name: "on-failure", input: { restart: "on-failure" }, expected: { condition: "on-failure" } },
    { name: "on-failure:5", input: { restart: "on-failure:5" }, expected: { condition: "on-failure", maxAttempts: 5 } },
    {
      name: "deploy.restart_policy wins",
      input: { restart: "no", deploy: { labels: {}, resources: { limits: {}, reservations: {} }, restart_policy: { condition: "on-failure", delay: 2000, max_attempts: 4, window: 30_000 } } },
      expected: { condition: "on-failure", delayMs: 2000, maxAttempts: 4, windowMs: 30_000 },
    },
    { name: "deploy any", input: { restart: "no", deploy: { labels: {}, resources: { limits: {}, reservations: {} }, restart_policy: { condition: "any" } } }, expected: { condition: "always", delayMs: undefined, maxAttempts: undefined, windowMs: undefined } },
    { name: "deploy none", input: { restart: "always", deploy: { labels: {}, resources: { limits: {}, reservations: {} }, restart_policy: { condition: "none" } } }, expected: { condition: "never", delayMs: undefined, maxAttempts: undefined, windowMs: undefined } },
  ];
  for (const c of cases) it(c.name, () => expect(restartSpecOf(c.input)).toEqual(c.expected));
  it("policy strings alone", () => expect(restartSpecOfPolicy("on-failure:0")).toEqual({ condition: "on-failure", maxAttempts: 0 }));
});
