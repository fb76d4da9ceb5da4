import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../src/schema/canonical.js";
import { configHash } from "../../../src/schema/hash.js";
import { makeService } from "../../helpers/model.js";

describe("configHash", () => {
  const base = makeService("web", { environment: { A: "1", B: "2" }, deploy: { replicas: 1, labels: {}, resources: { limits: {}, reservations: {} } } });

  it("is a sha256 hex digest and deterministic across key order", () => {
    const reordered = makeService("web", { deploy: { resources: { reservations: {}, limits: {} }, labels: {}, replicas: 1 }, environment: { B: "2", A: "1" } });
    expect(configHash(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(configHash(reordered)).toBe(configHash(base));
  });

  it.each([
    ["scale", { scale: 5 }],
    ["profiles", { profiles: ["debug"] }],
    ["attach", { attach: false }],
    ["develop", { develop: { watch: [{ action: "sync" as const, path: "/src", target: "/app", ignore: [], include: [], initial_sync: false }] } }],
    ["deploy.replicas", { deploy: { replicas: 4, labels: {}, resources: { limits: {}, reservations: {} } } }],
  ])("ignores %s", (_name, over) => {
    expect(configHash({ ...base, ...over })).toBe(configHash(base));
  });

  it.each([
    ["image", { image: "busybox:other" }],
    ["environment", { environment: { A: "1", B: "3" } }],
    ["command", { command: ["sleep", "1"] }],
    ["ports", { ports: [{ target: 80, protocol: "tcp" as const, mode: "ingress" as const }] }],
    ["deploy.resources", { deploy: { replicas: 1, labels: {}, resources: { limits: { memory: 1024 }, reservations: {} } } }],
  ])("changes with %s", (_name, over) => {
    expect(configHash({ ...base, ...over })).not.toBe(configHash(base));
  });

  it("includes the image digest when given", () => {
    expect(configHash(base, "sha256:aa")).not.toBe(configHash(base));
    expect(configHash(base, "sha256:aa")).toBe(configHash(base, "sha256:aa"));
    expect(configHash(base, "sha256:aa")).not.toBe(configHash(base, "sha256:bb"));
  });

  it("canonical JSON sorts keys at every level and drops undefined members", () => {
    expect(canonicalJson({ b: [{ d: 1, c: undefined }, 2], a: null })).toBe('{"a":null,"b":[{"d":1},2]}');
  });
});
