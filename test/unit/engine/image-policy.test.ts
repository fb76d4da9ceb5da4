import { describe, expect, test } from "vitest";
import { decideImage, type ImageFlags } from "../../../src/engine/image-policy.js";

const now = new Date("2026-11-27T12:00:00Z");
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);
const build = { context: "/app" } as never;

describe("decideImage", () => {
  const cases: Array<{ name: string; service: { image?: string; build?: never; pull_policy: string }; local: boolean; flags?: ImageFlags; last?: Date; expected: string }> = [
    { name: "missing policy, image present: local", service: { image: "db", pull_policy: "missing" }, local: true, expected: "local" },
    { name: "missing policy, image absent: pull", service: { image: "db", pull_policy: "missing" }, local: false, expected: "pull" },
    { name: "never, absent: missing (an error for the caller)", service: { image: "db", pull_policy: "never" }, local: false, expected: "missing" },
    { name: "always pulls even when present", service: { image: "db", pull_policy: "always" }, local: true, expected: "pull" },
    { name: "daily: pulled 2 h ago → local", service: { image: "db", pull_policy: "daily" }, local: true, last: hoursAgo(2), expected: "local" },
    { name: "daily: pulled 30 h ago → pull", service: { image: "db", pull_policy: "daily" }, local: true, last: hoursAgo(30), expected: "pull" },
    { name: "build section, image absent: build (not pull)", service: { image: "me/app", build, pull_policy: "missing" }, local: false, expected: "build" },
    { name: "build section, image present: local", service: { image: "me/app", build, pull_policy: "missing" }, local: true, expected: "local" },
    { name: "build section without image name, absent: build", service: { build, pull_policy: "missing" }, local: false, expected: "build" },
    { name: "pull_policy build, image present: local (never pulled)", service: { image: "me/app", build, pull_policy: "build" }, local: true, expected: "local" },
    { name: "pull_policy build, image absent: build", service: { image: "me/app", build, pull_policy: "build" }, local: false, expected: "build" },
    { name: "pull_policy build without build section, absent: missing", service: { image: "me/app", pull_policy: "build" }, local: false, expected: "missing" },
    { name: "--build rebuilds a present image", service: { build, pull_policy: "missing" }, local: true, flags: { build: true }, expected: "build" },
    { name: "--no-build with the image absent: missing", service: { build, pull_policy: "missing" }, local: false, flags: { noBuild: true }, expected: "missing" },
    { name: "--pull always overrides missing", service: { image: "db", pull_policy: "missing" }, local: true, flags: { pull: "always" }, expected: "pull" },
    { name: "--pull never overrides always", service: { image: "db", pull_policy: "always" }, local: true, flags: { pull: "never" }, expected: "local" },
    { name: "--pull always on a buildable service with an image name pulls", service: { image: "me/app", build, pull_policy: "missing" }, local: false, flags: { pull: "always" }, expected: "pull" },
  ];
  for (const c of cases) {
    test(c.name, () => {
      expect(decideImage(c.service as never, c.local, c.flags ?? {}, now, c.last)).toBe(c.expected);
    });
  }
});
