// Which recorded containers a verb acts on, in which order (ps rows, logs prefixes).
import { describe, expect, it } from "vitest";
import { selectContainers } from "../../../src/cli/engine-session.js";
import type { ContainerRecord, ProjectState } from "../../../src/engine/state.js";
import type { StackModel } from "../../../src/schema/model.js";
import { InvalidInputError } from "../../../src/errors.js";

function rec(service: string, index: number, oneOff = false): ContainerRecord {
  const name = oneOff ? `p-${service}-run-${index}` : `p-${service}-${index}`;
  return { name, id: `id-${name}`, service, index, configHash: "h", config: {}, image: { ref: "i", digest: "d" }, createdAt: "", ...(oneOff ? { oneOff } : {}) };
}
const records = [rec("web", 10), rec("web", 2), rec("Zed", 1), rec("db", 1), rec("web", 1), rec("a_b", 1), rec("a1", 1), rec("db", 1, true), rec("gone", 1)];
const state: ProjectState = { version: 1, project: "p", projectDir: "/", files: [], containers: Object.fromEntries(records.map((r) => [r.name, r])) };
// "gone" is recorded but no longer in the file (an orphan)
const model = { name: "p", services: { web: {}, db: {}, Zed: {}, a_b: {}, a1: {}, cache: {} } } as unknown as StackModel;

describe("selectContainers", () => {
  const cases: Array<{ name: string; services: string[]; oneOff?: boolean; expected: string[] }> = [
    { name: "all: by service in code-unit order, then by index as a number", services: [], expected: ["p-Zed-1", "p-a1-1", "p-a_b-1", "p-db-1", "p-gone-1", "p-web-1", "p-web-2", "p-web-10"] },
    { name: "named services only", services: ["web", "db"], expected: ["p-db-1", "p-web-1", "p-web-2", "p-web-10"] },
    { name: "one-off containers when asked", services: ["db"], oneOff: true, expected: ["p-db-1", "p-db-run-1"] },
    { name: "a service of the file without containers: none, no error", services: ["cache"], expected: [] },
    { name: "an orphan's service (recorded, not in the file) is known", services: ["gone"], expected: ["p-gone-1"] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      expect((await selectContainers(state, model, c.services, c.oneOff)).map((x) => x.name)).toEqual(c.expected);
    });
  }

  it("an unknown service is an error naming it and listing the file's services", async () => {
    const e = await selectContainers(state, model, ["web", "nope"]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidInputError);
    expect((e as InvalidInputError).message).toBe('no such service: "nope"');
    expect((e as InvalidInputError).hint).toBe("services are: Zed, a1, a_b, cache, db, web");
  });
});
