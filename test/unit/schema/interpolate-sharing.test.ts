// interpolateFile copies only what it must: the collections an alias shares
// (YamlFile.aliased), and those in which a value changed. The result never
// reaches one collection twice, so later stages may change what they got.
import { describe, expect, it } from "vitest";
import { interpolateFile } from "../../../src/schema/interpolate.js";
import { parseYamlFile } from "../../../src/schema/yaml-file.js";

const text = [
  "x-common: &common",
  "  restart: unless-stopped",
  "  labels:",
  "    team: core",
  "  logging: {driver: json-file, options: {max-size: 10m}}",
  "services:",
  "  web:",
  "    <<: *common",
  "    image: nginx:${TAG:-1}",
  "    ports: ['8080:80']",
  "    healthcheck: {test: [CMD, true], interval: 30s}",
  "  worker:",
  "    <<: *common",
  "    image: worker",
  "    command: [run, --level, $LEVEL]",
  "    environment: {A: '1', B: two}",
  "  cache:",
  "    image: redis",
  "    volumes: &volumes",
  "      - data:/data",
  "  cache2:",
  "    image: redis",
  "    volumes: *volumes",
  "",
].join("\n");

const lookup = (name: string) => ({ TAG: "2", LEVEL: "debug" })[name];

/** Every collection reachable from `root`, with how many times it is reached. */
function collections(root: unknown): Map<object, number> {
  const seen = new Map<object, number>();
  const visit = (v: unknown) => {
    if (v === null || typeof v !== "object") return;
    seen.set(v, (seen.get(v) ?? 0) + 1);
    for (const x of Array.isArray(v) ? v : Object.values(v)) visit(x);
  };
  visit(root);
  return seen;
}

type Doc = { services: Record<string, Record<string, unknown>> };

describe("interpolateFile and aliased collections", () => {
  it("the fast reader names the collections an anchor holds, and everything in them", () => {
    const file = parseYamlFile(text, "compose.yaml");
    const doc = file.doc as unknown as Doc & { "x-common": Record<string, unknown> };
    expect(file.aliased).toBeDefined();
    expect(file.aliased!.has(doc["x-common"])).toBe(true);
    expect(file.aliased!.has(doc["x-common"].labels as object)).toBe(true);
    expect(file.aliased!.has(doc.services.web!.ports as object)).toBe(false);
    // Merge keys share the anchored values: the two services hold one labels object.
    expect(doc.services.web!.labels).toBe(doc.services.worker!.labels);
  });

  it("gives the same values as a full copy, reaching no collection twice and none an alias shares", () => {
    const file = parseYamlFile(text, "compose.yaml");
    const shared = interpolateFile(file, lookup, file.aliased);
    const copied = interpolateFile(file, lookup);
    expect(shared.doc).toEqual(copied.doc);
    expect((shared.doc as unknown as Doc).services.web!.image).toBe("nginx:2");
    for (const [object, times] of collections(shared.doc)) {
      expect(times).toBe(1);
      expect(file.aliased!.has(object)).toBe(false);
    }
  });

  it("keeps a collection in which nothing changed, and copies one in which a value did (leaving the parsed one as it was)", () => {
    const file = parseYamlFile(text, "compose.yaml");
    const before = file.doc as unknown as Doc;
    const after = interpolateFile(file, lookup, file.aliased).doc as unknown as Doc;
    expect(after.services.web!.ports).toBe(before.services.web!.ports);
    expect(after.services.web!.healthcheck).toBe(before.services.web!.healthcheck);
    expect(after.services.worker!.environment).toBe(before.services.worker!.environment);
    expect(after.services.cache!.image).toBe("redis");
    expect(after.services.worker!.command).not.toBe(before.services.worker!.command);
    expect(after.services.worker!.command).toEqual(["run", "--level", "debug"]);
    expect(before.services.worker!.command).toEqual(["run", "--level", "$LEVEL"]);
    expect(after.services.web).not.toBe(before.services.web);
    expect(before.services.web!.image).toBe("nginx:${TAG:-1}");
  });

  it("lets a later stage change what one service got without changing another's", () => {
    const file = parseYamlFile(text, "compose.yaml");
    const after = interpolateFile(file, lookup, file.aliased).doc as unknown as Doc;
    (after.services.web!.labels as Record<string, string>).team = "edge";
    (after.services.cache!.volumes as string[]).push("more:/more");
    expect(after.services.worker!.labels).toEqual({ team: "core" });
    expect(after.services.cache2!.volumes).toEqual(["data:/data"]);
  });

  it("copies every collection when it is not told which are aliased (a file js-yaml read)", () => {
    // A block scalar is outside the fast reader's subset: js-yaml reads this file.
    const file = parseYamlFile(["services:", "  web:", "    image: nginx", "    command: |", "      run", ""].join("\n"), "compose.yaml");
    expect(file.aliased).toBeUndefined();
    const after = interpolateFile(file, lookup, file.aliased);
    const before = collections(file.doc);
    for (const object of collections(after.doc).keys()) expect(before.has(object)).toBe(false);
  });

  it("names nothing as aliased in a tagged file (taking the tags off copied everything)", () => {
    const tagged = ["x-a: &a", "  labels: {k: v}", "services:", "  web:", "    <<: *a", "    image: nginx", "    ports: !reset []", "  api:", "    <<: *a", "    image: api", ""];
    const file = parseYamlFile(tagged.join("\n"), "compose.yaml");
    expect(file.aliased?.size).toBe(0);
    expect([...collections(file.doc).values()].every((n) => n === 1)).toBe(true);
    expect((file.doc as unknown as Doc).services.api!.labels).toEqual({ k: "v" });
  });
});
