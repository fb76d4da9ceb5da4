import { describe, expect, it } from "vitest";
import { buildGraph, findCycle, restartDependents, selectServices, startLevels, stopLevels } from "../../../src/graph/graph.js";
import { renderGraph } from "../../../src/graph/render.js";
import { dep, makeService, makeStack } from "../../helpers/model.js";

const quick = makeStack([
  makeService("app", { depends_on: { db: dep("service_healthy"), cache: dep(), migrate: dep("service_completed_successfully") } }),
  makeService("worker", { depends_on: { queue: dep("service_healthy", { restart: true }) } }),
  makeService("migrate", { depends_on: { db: dep("service_healthy") } }),
  makeService("db"),
  makeService("cache"),
  makeService("queue"),
]);

describe("buildGraph", () => {
  it("orders services in levels of maximum parallelism", () => {
    const g = buildGraph(quick);
    expect(g.levels).toEqual([["cache", "db", "queue"], ["migrate", "worker"], ["app"]]);
  });

  it("collects edges from links, network_mode service: and volumes_from", () => {
    const g = buildGraph(
      makeStack([
        makeService("a", { links: [{ service: "b", alias: "bee" }], network_mode: "service:c", volumes_from: [{ kind: "service", name: "d", read_only: false }, { kind: "container", name: "x", read_only: false }] }),
        makeService("b"),
        makeService("c"),
        makeService("d"),
      ]),
    );
    expect(g.edges.map((e) => `${e.from}->${e.to}:${e.kind}`)).toEqual(["a->b:links", "a->c:network_mode", "a->d:volumes_from"]);
    expect(g.levels).toEqual([["b", "c", "d"], ["a"]]);
  });

  it("keeps one edge per pair with the strongest condition", () => {
    const g = buildGraph(makeStack([makeService("a", { depends_on: { b: dep("service_healthy") }, links: [{ service: "b", alias: "b" }] }), makeService("b")]));
    expect(g.edges).toHaveLength(1);
    expect(g.edges[0]).toMatchObject({ kind: "depends_on", condition: "service_healthy" });
  });

  const cycles: Array<{ name: string; deps: Record<string, string[]>; expected: string }> = [
    { name: "two services", deps: { web: ["api"], api: ["web"] }, expected: "dependency cycle: api -> web -> api" },
    { name: "three services, reported from the smallest name", deps: { b: ["d"], d: ["c"], c: ["b"] }, expected: "dependency cycle: b -> d -> c -> b" },
    { name: "self", deps: { a: ["a"] }, expected: "dependency cycle: a -> a" },
  ];
  for (const c of cycles) {
    it(`reports a cycle deterministically: ${c.name}`, () => {
      const services = Object.entries(c.deps).map(([n, ds]) => makeService(n, { depends_on: Object.fromEntries(ds.map((d) => [d, dep()])) }));
      expect(() => buildGraph(makeStack(services))).toThrow(c.expected);
    });
  }

  it("fails clearly on an undefined required dependency", () => {
    expect(() => buildGraph(makeStack([makeService("a", { depends_on: { ghost: dep() } })]))).toThrow('service "a" depends on undefined service "ghost" (depends_on)');
  });

  it("skips an optional missing dependency with a warning", () => {
    const g = buildGraph(makeStack([makeService("a", { depends_on: { ghost: dep("service_started", { required: false }) } })]));
    expect(g.edges).toEqual([]);
    expect(g.warnings).toEqual(['service "a" depends on "ghost", which is not defined: skipped (required: false)']);
  });

  it("names the profile of a disabled required dependency", () => {
    const model = makeStack([makeService("a", { depends_on: { dbg: dep() } })], { disabled_services: { dbg: makeService("dbg", { profiles: ["debug"] }) } });
    try {
      buildGraph(model);
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toContain('"dbg", which is not enabled');
      expect((e as { hint?: string }).hint).toContain("--profile debug");
    }
  });
});

describe("selection and order", () => {
  const g = buildGraph(quick);
  it("selects named services with their dependencies", () => {
    expect(selectServices(g, ["app"])).toEqual(["app", "cache", "db", "migrate"]);
    expect(selectServices(g, ["app"], true)).toEqual(["app"]);
    expect(selectServices(g, [])).toEqual(g.nodes);
  });
  it("rejects unknown service names", () => {
    expect(() => selectServices(g, ["nope"])).toThrow('no such service: "nope"');
  });
  it("stops in reverse start order", () => {
    expect(stopLevels(g, g.nodes)).toEqual([["app"], ["migrate", "worker"], ["cache", "db", "queue"]]);
    expect(startLevels(g, ["app", "db"])).toEqual([["db"], ["app"]]);
  });
  it("finds dependents to restart", () => {
    expect(restartDependents(g, "queue")).toEqual(["worker"]);
    expect(restartDependents(g, "db")).toEqual([]);
  });
  it("findCycle returns undefined on a DAG", () => {
    expect(findCycle(g.nodes, g.edges)).toBeUndefined();
  });
});

describe("renderGraph", () => {
  const g = buildGraph(makeStack([makeService("web-1", { depends_on: { db: dep("service_healthy", { restart: true }) } }), makeService("db")]));
  it("mermaid", () => {
    expect(renderGraph(g, "mermaid")).toBe('graph LR\n  db["db"]\n  web_1["web-1"]\n  web_1 -->|healthy, restart| db\n');
  });
  it("dot", () => {
    expect(renderGraph(g, "dot")).toBe('digraph stack {\n  rankdir=LR;\n  "db";\n  "web-1";\n  "web-1" -> "db" [label="healthy, restart"];\n}\n');
  });
  it("json", () => {
    expect(JSON.parse(renderGraph(g, "json"))).toMatchObject({ services: ["db", "web-1"], levels: [["db"], ["web-1"]] });
  });
});
