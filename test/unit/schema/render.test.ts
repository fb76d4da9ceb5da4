import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { sortDeep } from "../../../src/schema/canonical.js";
import { definedProfiles, renderModel, serviceImages } from "../../../src/schema/render.js";
import { makeService, makeStack } from "../../helpers/model.js";

describe("render", () => {
  const model = makeStack([makeService("web", { image: undefined, build: undefined, restart: "no", profiles: ["b", "a"] }), makeService("db", { image: "postgres:16", environment: { Z: "1", A: null } })], {
    disabled_services: { dbg: makeService("dbg", { profiles: ["debug", "a"] }) },
  });

  it("sorts keys at every level, keeps list order, drops undefined", () => {
    expect(JSON.stringify(sortDeep({ b: 1, a: { d: [3, 1], c: undefined } }))).toBe('{"a":{"d":[3,1]},"b":1}');
  });

  it("YAML and JSON carry the same model; YAML quotes what YAML 1.1 would misread", () => {
    const yaml = renderModel(model, "yaml");
    expect(parse(yaml, { version: "1.1" })).toEqual(JSON.parse(renderModel(model, "json")));
    expect(yaml).toContain('restart: "no"');
    expect(Object.keys(JSON.parse(renderModel(model, "json")).services.db.environment)).toEqual(["A", "Z"]);
  });

  it("lists images (build-only services get <project>-<service>) and profiles", () => {
    expect(serviceImages(model)).toEqual([
      { service: "db", image: "postgres:16" },
      { service: "web", image: "demo-web" },
    ]);
    expect(definedProfiles(model)).toEqual(["a", "b", "debug"]);
  });
});
