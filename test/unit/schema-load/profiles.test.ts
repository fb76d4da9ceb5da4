import { describe, expect, it } from "vitest";
import { InvalidInputError, NotFoundError } from "../../../src/errors.js";
import type { DependencyModel } from "../../../src/schema/model.js";
import { activeProfiles, applyProfiles } from "../../../src/schema/profiles.js";
import { makeService, makeStack } from "../../helpers/model.js";

const dep = (required = true): DependencyModel => ({ condition: "service_started", required, restart: false });

const stack = () =>
  makeStack([
    makeService("web", { depends_on: { db: dep() } }),
    makeService("db"),
    makeService("debug", { profiles: ["debug"] }),
    makeService("mock", { profiles: ["dev", "test"], depends_on: { fixtures: dep() } }),
    makeService("fixtures", { profiles: ["fixtures"] }),
    makeService("opt", { depends_on: { debug: dep(false) } }),
  ]);

describe("activeProfiles", () => {
  const cases: Array<{ name: string; flags: string[]; env: Record<string, string>; expected: string[] }> = [
    { name: "flags", flags: ["a", "b", "a"], env: { STACK_PROFILES: "x" }, expected: ["a", "b"] },
    { name: "STACK_PROFILES comma list", flags: [], env: { STACK_PROFILES: "x, y,,z", COMPOSE_PROFILES: "c" }, expected: ["x", "y", "z"] },
    { name: "COMPOSE_PROFILES", flags: [], env: { COMPOSE_PROFILES: "c" }, expected: ["c"] },
    { name: "none", flags: [], env: {}, expected: [] },
  ];
  it.each(cases)("$name", ({ flags, env, expected }) => expect(activeProfiles(flags, env)).toEqual(expected));
});

describe("applyProfiles", () => {
  const cases: Array<{ name: string; profiles: string[]; named?: string[]; enabled: string[] }> = [
    { name: "no profile: services without profiles", profiles: [], enabled: ["db", "opt", "web"] },
    { name: "one profile", profiles: ["debug"], enabled: ["db", "debug", "opt", "web"] },
    { name: "any of a service's profiles", profiles: ["test", "fixtures"], enabled: ["db", "fixtures", "mock", "opt", "web"] },
    { name: "* enables all", profiles: ["*"], enabled: ["db", "debug", "fixtures", "mock", "opt", "web"] },
    { name: "a named service is enabled without its profile", profiles: [], named: ["debug"], enabled: ["db", "debug", "opt", "web"] },
    { name: "a named service brings its dependencies", profiles: [], named: ["mock"], enabled: ["db", "fixtures", "mock", "opt", "web"] },
  ];
  it.each(cases)("$name", ({ profiles, named, enabled }) => {
    const m = applyProfiles(stack(), profiles, named);
    expect(Object.keys(m.services)).toEqual(enabled);
    expect(Object.keys(m.disabled_services).sort()).toEqual(Object.keys(stack().services).filter((s) => !enabled.includes(s)).sort());
    expect(m.profiles).toEqual(profiles);
  });

  it("an enabled service that requires a disabled one is an error naming the profile", () => {
    expect(() => applyProfiles(stack(), ["dev"])).toThrow(InvalidInputError);
    expect(() => applyProfiles(stack(), ["dev"])).toThrow('service "mock" depends on "fixtures", which is disabled: it belongs to profile "fixtures"');
  });

  it("an unknown named service is NotFound", () => {
    expect(() => applyProfiles(stack(), [], ["nope"])).toThrow(NotFoundError);
    expect(() => applyProfiles(stack(), [], ["nope"])).toThrow('no such service: "nope"');
  });
});
