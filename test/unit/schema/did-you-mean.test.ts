import { describe, expect, it } from "vitest";
import { didYouMean, editDistance, suggestName } from "../../../src/schema/did-you-mean.js";

describe("did you mean", () => {
  it.each([
    ["", "", 0],
    ["abc", "abc", 0],
    ["restrat", "restart", 2],
    ["kitten", "sitting", 3],
    ["", "abc", 3],
  ])("editDistance(%j, %j) = %i", (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
  });

  it.each([
    ["restrat", ["restart", "read_only", "runtime"], "restart"],
    ["Image", ["image", "init"], "image"],
    ["dbb", ["db", "web"], "db"],
    ["xyz", ["restart", "image"], undefined],
    ["web", ["web"], undefined],
    ["ab", ["ac", "ab1"], "ab1"],
  ])("suggestName(%j) = %j", (name, candidates, expected) => {
    expect(suggestName(name, candidates)).toBe(expected);
  });

  it("phrases the hint", () => {
    expect(didYouMean("portz", ["ports"])).toBe('did you mean "ports"?');
    expect(didYouMean("zzzzzz", ["ports"])).toBeUndefined();
  });
});
