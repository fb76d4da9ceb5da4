import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../src/graph/graph.js";
import { describeAction, diffConfig, planUp, type ActualContainer } from "../../../src/engine/plan.js";
import { dep, makeService, makeStack } from "../../helpers/model.js";

const web = makeService("web", { depends_on: { db: dep("service_healthy", { restart: true }) } });
const db = makeService("db");
const model = makeStack([web, db]);
const graph = buildGraph(model);
const snapshot = (s: unknown) => JSON.parse(JSON.stringify(s));
const running = (service: string, index: number, hash: string, config: unknown): ActualContainer => ({ name: `demo-${service}-${index}`, service, index, configHash: hash, config, status: "running" });

describe("planUp", () => {
  const hashes = { web: "hw", db: "hd" };
  const cases: Array<{ name: string; actual: ActualContainer[]; opts?: object; expected: string[]; orphans?: string[] }> = [
    { name: "fresh project: create everything", actual: [], expected: ["create   demo-db-1", "create   demo-web-1"] },
    {
      name: "unchanged: leave running",
      actual: [running("db", 1, "hd", snapshot(db)), running("web", 1, "hw", snapshot(web))],
      expected: ["running  demo-db-1  (unchanged)", "running  demo-web-1  (unchanged)"],
    },
    {
      name: "changed db: recreate it and restart the dependent that asked for it",
      actual: [running("db", 1, "old", { ...snapshot(db), image: "postgres:15" }), running("web", 1, "hw", snapshot(web))],
      expected: ["recreate demo-db-1  (changed: image)", "restart  demo-web-1  (its dependency db is recreated)"],
    },
    {
      name: "changed but --no-recreate",
      actual: [running("db", 1, "old", snapshot(db)), running("web", 1, "hw", snapshot(web))],
      opts: { noRecreate: true },
      expected: ["running  demo-db-1  (unchanged)", "running  demo-web-1  (unchanged)"],
    },
    {
      name: "exited container is started",
      actual: [{ ...running("db", 1, "hd", snapshot(db)), status: "exited" }, running("web", 1, "hw", snapshot(web))],
      expected: ["start    demo-db-1", "running  demo-web-1  (unchanged)"],
    },
    {
      name: "scale up and down",
      actual: [running("db", 1, "hd", snapshot(db)), running("web", 1, "hw", snapshot(web)), running("web", 2, "hw", snapshot(web)), running("web", 3, "hw", snapshot(web))],
      opts: { scale: { web: 2, db: 2 } },
      expected: ["running  demo-db-1  (unchanged)", "create   demo-db-2", "running  demo-web-1  (unchanged)", "running  demo-web-2  (unchanged)", "remove   demo-web-3  (scaled down)"],
    },
    {
      name: "orphans warned about",
      actual: [running("old", 1, "x", {})],
      expected: ["create   demo-db-1", "create   demo-web-1"],
      orphans: ["demo-old-1"],
    },
    {
      name: "orphans removed with --remove-orphans",
      actual: [running("old", 1, "x", {})],
      opts: { removeOrphans: true },
      expected: ["create   demo-db-1", "create   demo-web-1", "remove   demo-old-1  (orphan: its service is no longer in the stack file)"],
    },
    {
      name: "--force-recreate says so",
      actual: [running("db", 1, "hd", snapshot(db))],
      opts: { forceRecreate: true, selection: ["db"] },
      expected: ["recreate demo-db-1  (changed: (--force-recreate))"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planUp(model, graph, c.actual, { selection: ["db", "web"], hashes, ...c.opts });
      expect(plan.actions.map(describeAction)).toEqual(c.expected);
      expect(plan.orphans).toEqual(c.orphans ?? []);
    });
  }

  it("uses container_name when given", () => {
    const m = makeStack([makeService("db", { container_name: "mydb" })]);
    const plan = planUp(m, buildGraph(m), [], { selection: ["db"], hashes: { db: "h" } });
    expect(plan.actions).toEqual([{ kind: "create", service: "db", index: 1, name: "mydb" }]);
  });
});

describe("diffConfig", () => {
  const cases = [
    { name: "nested field", a: { environment: { A: "1", B: "2" } }, b: { environment: { A: "1", B: "3" } }, expected: ["environment.B"] },
    { name: "added and removed keys", a: { x: 1 }, b: { y: 1 }, expected: ["x", "y"] },
    { name: "arrays compared whole", a: { ports: [1, 2] }, b: { ports: [2, 1] }, expected: ["ports"] },
    { name: "equal", a: { a: [1], b: { c: "d" } }, b: { a: [1], b: { c: "d" } }, expected: [] },
  ];
  for (const c of cases) it(c.name, () => expect(diffConfig(c.a, c.b)).toEqual(c.expected));
});
