import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { normalizeProjectName, resolveProjectName } from "../../../src/schema/project-name.js";

describe("normalizeProjectName", () => {
  const cases: Array<[string, string]> = [
    ["myapp", "myapp"],
    ["My App", "myapp"],
    ["_hidden-dir", "hidden-dir"],
    ["--x__y", "x__y"],
    ["Proj.v2", "projv2"],
    ["日本", ""],
  ];
  it.each(cases)("%j → %j", (raw, expected) => expect(normalizeProjectName(raw)).toBe(expected));
});

describe("resolveProjectName", () => {
  const cases: Array<{ name: string; flag?: string; env?: Record<string, string>; docName?: unknown; dir: string; expected: string }> = [
    { name: "-p first", flag: "cli", env: { STACK_PROJECT_NAME: "env" }, docName: "doc", dir: "/x/dir", expected: "cli" },
    { name: "STACK_PROJECT_NAME next", env: { STACK_PROJECT_NAME: "env", COMPOSE_PROJECT_NAME: "cenv" }, docName: "doc", dir: "/x/dir", expected: "env" },
    { name: "COMPOSE_PROJECT_NAME", env: { COMPOSE_PROJECT_NAME: "cenv" }, docName: "doc", dir: "/x/dir", expected: "cenv" },
    { name: "top-level name:", docName: "doc", dir: "/x/dir", expected: "doc" },
    { name: "empty values are skipped", flag: "", env: { STACK_PROJECT_NAME: "" }, docName: "doc", dir: "/x/dir", expected: "doc" },
    { name: "directory basename, normalized", dir: "/home/u/My_Project.Dir", expected: "my_projectdir" },
    { name: "leading _ trimmed", dir: "/srv/_app", expected: "app" },
  ];
  it.each(cases)("$name", ({ flag, env, docName, dir, expected }) => {
    expect(resolveProjectName({ flag, env: env ?? {}, docName, projectDir: dir })).toBe(expected);
  });

  const errors: Array<{ name: string; flag?: string; env?: Record<string, string>; docName?: unknown; dir: string; message: string; hint: RegExp }> = [
    { name: "-p with capitals", flag: "MyApp", dir: "/x", message: 'invalid project name "MyApp" (from -p/--project-name)', hint: /use "myapp"/ },
    { name: "env with a dot", env: { STACK_PROJECT_NAME: "a.b" }, dir: "/x", message: 'invalid project name "a.b" (from STACK_PROJECT_NAME)', hint: /"ab"/ },
    { name: "name: starting with -", docName: "-app", dir: "/x", message: 'invalid project name "-app" (from the top-level `name:`)', hint: /"app"/ },
    { name: "a directory that normalizes to nothing", dir: "/x/___", message: 'cannot derive a project name from the directory name "___"', hint: /-p NAME/ },
  ];
  it.each(errors)("error: $name", ({ flag, env, docName, dir, message, hint }) => {
    let caught: unknown;
    try {
      resolveProjectName({ flag, env: env ?? {}, docName, projectDir: dir });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as InvalidInputError).message).toContain(message);
    expect((caught as InvalidInputError).hint).toMatch(hint);
  });
});
