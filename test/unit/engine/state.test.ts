import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listProjects, readProjectState, writeProjectState } from "../../../src/engine/state.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "stack-state-"));
  dirs.push(d);
  return d;
};

describe("project state", () => {
  it("round-trips and leaves no temporary files", () => {
    const s = tmp();
    const state = readProjectState(s, "p");
    expect(state.containers).toEqual({});
    state.containers["p-web-1"] = { name: "p-web-1", id: "abc", service: "web", index: 1, configHash: "h", config: {}, image: { ref: "busybox", digest: "sha256:x" }, createdAt: "2026-01-01T00:00:00Z" };
    writeProjectState(s, state);
    expect(readProjectState(s, "p")).toEqual(state);
    expect(readdirSync(join(s, "projects", "p"))).toEqual(["state.json"]);
    expect(listProjects(s)).toEqual(["p"]);
  });

  it("reports a damaged state file with its path", () => {
    const s = tmp();
    mkdirSync(join(s, "projects", "p"), { recursive: true });
    writeFileSync(join(s, "projects", "p", "state.json"), "{not json");
    expect(() => readProjectState(s, "p")).toThrow(/cannot read .*projects\/p\/state.json/);
  });
});
