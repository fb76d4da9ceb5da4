import { describe, expect, it } from "vitest";
import { diffSnapshots, type HostSnapshot } from "../helpers/leaks.js";

const empty: HostSnapshot = { mounts: [], netns: [], links: [], cgroups: [], nftTables: [], runc: [], processes: [] };

describe("leak detection", () => {
  it("reports what appeared, not what was there before", () => {
    const before = { ...empty, netns: ["stack-a"] };
    const after = { ...empty, netns: ["stack-a", "stack-b"], links: ["stk0"] };
    expect(diffSnapshots(before, after)).toEqual(["netns: stack-b", "links: stk0"]);
  });
  it("reports nothing when nothing changed", () => {
    expect(diffSnapshots(empty, empty)).toEqual([]);
  });
});
