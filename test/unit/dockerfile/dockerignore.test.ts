import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { cleanPath, compileIgnore, ignoreFileCandidates } from "../../../src/image/dockerignore.js";

const cases: Array<{ name: string; ignore: string; excluded: string[]; included: string[] }> = [
  { name: "plain name at the root only", ignore: "node_modules", excluded: ["node_modules", "node_modules/x/y.js"], included: ["src/node_modules", "node_modules2"] },
  { name: "leading slash is dropped", ignore: "/build", excluded: ["build", "build/out"], included: ["src/build"] },
  { name: "* stays within a segment", ignore: "*.log", excluded: ["a.log"], included: ["logs/a.log", "a.log.txt"] },
  { name: "*/ one level", ignore: "*/temp*", excluded: ["a/temp", "a/temporary/x"], included: ["temp", "a/b/temp"] },
  { name: "** any depth", ignore: "**/*.go", excluded: ["main.go", "a/b/c.go"], included: ["main.go.txt"] },
  { name: "** in the middle", ignore: "a/**/z", excluded: ["a/z", "a/b/z", "a/b/c/z"], included: ["z", "b/z"] },
  { name: "trailing ** matches below", ignore: "dist/**", excluded: ["dist/a", "dist/a/b"], included: ["dist", "distx/a"] },
  { name: "? one character", ignore: "file?.txt", excluded: ["file1.txt"], included: ["file10.txt", "file/.txt"] },
  { name: "character class", ignore: "[ab].txt", excluded: ["a.txt", "b.txt"], included: ["c.txt"] },
  { name: "exception re-includes", ignore: "*.md\n!README.md", excluded: ["CHANGES.md"], included: ["README.md"] },
  { name: "last match wins", ignore: "!README.md\n*.md", excluded: ["README.md"], included: [] },
  { name: "exception below an excluded directory", ignore: "docs\n!docs/keep.txt", excluded: ["docs", "docs/other.txt"], included: ["docs/keep.txt"] },
  { name: "re-exclude after exception", ignore: "*\n!src\nsrc/*.tmp", excluded: ["README", "src/x.tmp"], included: ["src", "src/main.ts"] },
  { name: "comments and blank lines", ignore: "# comment\n\n   \n*.tmp\n #notacomment", excluded: ["a.tmp", "#notacomment"], included: ["# comment", "b.txt"] },
  { name: "patterns are cleaned", ignore: "./a//b/../c\n  spaced  ", excluded: ["a/c", "spaced"], included: ["a/b"] },
  { name: "regexp characters are literal", ignore: "a+b(c).{d}$", excluded: ["a+b(c).{d}$"], included: ["aab"] },
  { name: "escaped wildcard", ignore: "\\*.txt", excluded: ["*.txt"], included: ["a.txt"] },
  { name: "Dockerfile and .dockerignore are ordinary paths", ignore: "Dockerfile\n.dockerignore", excluded: ["Dockerfile", ".dockerignore"], included: ["app/Dockerfile"] },
  { name: "CRLF lines", ignore: "a\r\nb\r\n", excluded: ["a", "b"], included: ["c"] },
];

describe("compileIgnore", () => {
  for (const c of cases) {
    it(c.name, () => {
      const rules = compileIgnore(c.ignore);
      for (const p of c.excluded) expect(rules.excludes(p), `${p} excluded`).toBe(true);
      for (const p of c.included) expect(rules.excludes(p), `${p} included`).toBe(false);
    });
  }

  it("reports whether exceptions exist", () => {
    expect(compileIgnore("a\n!b").hasExceptions).toBe(true);
    expect(compileIgnore("a").hasExceptions).toBe(false);
  });

  it.each([
    ["!", /^\.dockerignore:1: illegal exclusion pattern "!"$/],
    ["ok\n[unclosed", /^\.dockerignore:2: bad pattern "\[unclosed"/],
  ])("rejects %j", (text, message) => {
    expect(() => compileIgnore(text)).toThrow(InvalidInputError);
    expect(() => compileIgnore(text)).toThrow(message);
  });
});

describe("cleanPath", () => {
  it.each([
    ["", "."],
    ["a/./b/", "a/b"],
    ["a/../../b", "../b"],
    ["/../a", "/a"],
    ["//a//b", "/a/b"],
  ])("%j → %j", (p, expected) => expect(cleanPath(p)).toBe(expected));
});

describe("ignoreFileCandidates", () => {
  it("prefers <Dockerfile>.dockerignore, then the context's .dockerignore", () => {
    expect(ignoreFileCandidates("/ctx", "docker/app.Dockerfile")).toEqual(["/ctx/docker/app.Dockerfile.dockerignore", "/ctx/.dockerignore"]);
  });
});
