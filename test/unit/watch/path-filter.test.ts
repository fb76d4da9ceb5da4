import { describe, expect, it } from "vitest";
import { compileIgnore } from "../../../src/image/dockerignore.js";
import { compilePathFilter, isEditorFile, relativeInside } from "../../../src/watch/path-filter.js";

describe("isEditorFile", () => {
  const cases: [string, boolean][] = [
    [".main.js.swp", true],
    [".main.js.swo", true],
    [".main.js.swx", true],
    ["4913", true],
    ["main.js~", true],
    [".#main.js", true],
    ["#main.js#", true],
    ["main.js___jb_tmp___", true],
    [".DS_Store", true],
    ["main.js", false],
    ["swap.swp.js", false],
    ["49130", false],
    [".env", false],
  ];
  for (const [name, expected] of cases) it(`${name} → ${expected}`, () => expect(isEditorFile(name)).toBe(expected));
});

describe("relativeInside", () => {
  it.each([
    ["/a", "/a", ""],
    ["/a", "/a/b/c", "b/c"],
    ["/a", "/ab", undefined],
    ["/a", "/", undefined],
    ["/a/b", "/a", undefined],
    ["/", "/x", "x"],
  ])("%s contains %s → %s", (root, p, expected) => expect(relativeInside(root, p)).toBe(expected));
});

describe("compilePathFilter", () => {
  const filter = (over: Partial<Parameters<typeof compilePathFilter>[0]> = {}) => compilePathFilter({ path: "/p/src", ignore: [], include: [], origin: "services.app.develop.watch[0]", ...over });

  const cases: { name: string; spec?: Partial<Parameters<typeof compilePathFilter>[0]>; path: string; accepts: boolean }[] = [
    { name: "a file below the path", path: "/p/src/a/b.js", accepts: true },
    { name: "the path itself", path: "/p/src", accepts: true },
    { name: "outside the path", path: "/p/other/a.js", accepts: false },
    { name: "a sibling with a common prefix", path: "/p/src2/a.js", accepts: false },
    { name: ".git anywhere", path: "/p/src/.git/index", accepts: false },
    { name: "a nested .git", path: "/p/src/vendor/x/.git/HEAD", accepts: false },
    { name: "a .gitignore file", path: "/p/src/.gitignore", accepts: true },
    { name: "a vim swap file", path: "/p/src/.b.js.swp", accepts: false },
    { name: "an emacs backup", path: "/p/src/b.js~", accepts: false },
    { name: "ignore by name, anywhere below", spec: { ignore: ["**/*.test.js"] }, path: "/p/src/a/b.test.js", accepts: false },
    { name: "ignore is relative to the path", spec: { ignore: ["node_modules/"] }, path: "/p/src/node_modules/x/i.js", accepts: false },
    { name: "ignore anchored at the path only", spec: { ignore: ["node_modules"] }, path: "/p/src/lib/node_modules/i.js", accepts: true },
    { name: "an ignore exception", spec: { ignore: ["*.md", "!README.md"] }, path: "/p/src/README.md", accepts: true },
    { name: "include keeps matches", spec: { include: ["*.js"] }, path: "/p/src/a.js", accepts: true },
    { name: "include drops the rest", spec: { include: ["*.js"] }, path: "/p/src/a.css", accepts: false },
    { name: "include of a directory covers its files", spec: { include: ["lib"] }, path: "/p/src/lib/x/y.css", accepts: true },
    { name: "ignore wins over include", spec: { include: ["*.js"], ignore: ["gen.js"] }, path: "/p/src/gen.js", accepts: false },
    { name: "a file rule is its own path", spec: { path: "/p/package.json", include: ["*.ts"] }, path: "/p/package.json", accepts: true },
    { name: "a file rule named like a swap file", spec: { path: "/p/.x.swp" }, path: "/p/.x.swp", accepts: false },
    {
      name: "dockerignore inside the build context",
      spec: { buildIgnore: { context: "/p", rules: compileIgnore("src/tmp\n"), keep: ["/p/Dockerfile"] } },
      path: "/p/src/tmp/x",
      accepts: false,
    },
    {
      name: "dockerignore does not reach outside the context",
      spec: { path: "/q", buildIgnore: { context: "/p", rules: compileIgnore("*\n"), keep: [] } },
      path: "/q/x",
      accepts: true,
    },
  ];
  for (const c of cases) it(`${c.accepts ? "accepts" : "rejects"} ${c.name}`, () => expect(filter(c.spec).accepts(c.path)).toBe(c.accepts));

  it("prunes ignored directories unless an exception could bring files back", () => {
    expect(filter({ ignore: ["node_modules"] }).prunes("/p/src/node_modules")).toBe(true);
    expect(filter({ ignore: ["node_modules", "!node_modules/keep"] }).prunes("/p/src/node_modules")).toBe(false);
    expect(filter().prunes("/p/src/.git")).toBe(true);
    expect(filter().prunes("/p/src")).toBe(false);
    expect(filter({ include: ["*.js"] }).prunes("/p/src/lib")).toBe(false);
  });
});
