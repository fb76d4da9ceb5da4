// Golden folders: test/fixtures/dockerfile/<case>/{Dockerfile,expected.json}
// hold what `stack dockerfile parse` prints; errors/<case>/{Dockerfile,
// expected-error.txt} hold the first line of the error each bad file gives.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { parseInstructions } from "../../../src/image/dockerfile/instructions.js";
import { parseDockerfile } from "../../../src/image/dockerfile/parser.js";
import { renderNodes } from "../../../src/image/dockerfile/render.js";

const root = fileURLToPath(new URL("../../fixtures/dockerfile", import.meta.url));
const dirs = (d: string) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

describe("golden Dockerfiles", () => {
  const cases = dirs(root).filter((c) => c !== "errors");
  it("has cases", () => expect(cases.length).toBeGreaterThanOrEqual(4));
  for (const c of cases) {
    it(c, () => {
      const parsed = parseDockerfile(readFileSync(join(root, c, "Dockerfile"), "utf8"));
      parseInstructions(parsed);
      expect(JSON.parse(renderNodes(parsed.nodes))).toEqual(JSON.parse(readFileSync(join(root, c, "expected.json"), "utf8")));
    });
  }
});

describe("negative Dockerfiles", () => {
  const errors = join(root, "errors");
  const cases = dirs(errors);
  it("has cases", () => expect(cases.length).toBeGreaterThanOrEqual(20));
  for (const c of cases) {
    it(c, () => {
      const expected = readFileSync(join(errors, c, "expected-error.txt"), "utf8").trim();
      let err: unknown;
      try {
        parseInstructions(parseDockerfile(readFileSync(join(errors, c, "Dockerfile"), "utf8")));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as Error).message).toBe(expected);
      expect((err as InvalidInputError).hint).toBeTruthy();
    });
  }
});
