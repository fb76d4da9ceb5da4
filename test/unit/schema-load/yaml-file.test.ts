import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { MAX_ALIASES, parseYamlFile } from "../../../src/schema/yaml-file.js";

const lines = (...l: string[]) => l.join("\n") + "\n";

describe("parseYamlFile", () => {
  it("expands anchors, aliases and merge keys, and locates values through them", () => {
    const f = parseYamlFile(
      lines("x-base: &base", "  image: nginx", "  environment:", "    A: 1", "services:", "  web:", "    <<: *base", "    ports: ['80:80']", "  db:", "    environment: *env", "") .replace("  environment:\n    A: 1", "  environment: &env\n    A: 1"),
      "compose.yaml",
    );
    expect(f.doc.services).toEqual({ web: { image: "nginx", environment: { A: 1 }, ports: ["80:80"] }, db: { environment: { A: 1 } } });
    expect(f.locate(["services", "web", "ports", 0])).toEqual({ file: "compose.yaml", line: 8, col: 13 });
    expect(f.locate(["services", "web", "image"])).toEqual({ file: "compose.yaml", line: 2, col: 10 });
    expect(f.locate(["services", "db", "environment", "A"])).toEqual({ file: "compose.yaml", line: 4, col: 8 });
    expect(f.locate(["services", "nope"])).toBeUndefined();
  });

  it("takes !reset values off the tree and keeps !override ones, recording both paths", () => {
    const f = parseYamlFile(
      lines("services:", "  web:", "    ports: !override ['8080:80']", "    command: !reset null", "    labels: !reset {}", "    dns: [a, !reset b, c]", "    image: !override nginx"),
      "o.yaml",
    );
    expect(f.doc).toEqual({ services: { web: { ports: ["8080:80"], dns: ["a", "c"], image: "nginx" } } });
    expect(f.resets).toEqual([
      ["services", "web", "command"],
      ["services", "web", "labels"],
    ]);
    expect(f.overrides).toEqual([
      ["services", "web", "ports"],
      ["services", "web", "image"],
    ]);
  });

  it("reads scalars as compose does (YAML 1.2 core, plus legacy octals like `0440`)", () => {
    const f = parseYamlFile(lines("a: 0440", "b: 0o440", "c: 0", "d: 10", "e: yes", "f: 2001-12-14", "g: ~", "h: 1.5", "i: 0x1F", "j: '0440'", "k: -010", "l: 089"), "s.yaml");
    expect(f.doc).toEqual({ a: 288, b: 288, c: 0, d: 10, e: "yes", f: "2001-12-14", g: null, h: 1.5, i: 31, j: "0440", k: -8, l: 89 });
  });

  it("an empty file is an empty document", () => {
    expect(parseYamlFile("", "e.yaml").doc).toEqual({});
    expect(parseYamlFile("# only a comment\n", "e.yaml").doc).toEqual({});
  });

  const errors: Array<{ name: string; text: string; problem?: string; message: RegExp }> = [
    { name: "duplicate key", text: lines("services:", "  web:", "    image: a", "    image: b"), problem: 'c.yaml:4:5: duplicate key "image": a key may appear once per mapping', message: /c\.yaml: invalid YAML/ },
    { name: "duplicate service", text: lines("services:", "  web: {}", "  web: {}"), problem: 'c.yaml:3:3: duplicate key "web": a key may appear once per mapping', message: /invalid YAML/ },
    { name: "syntax error", text: lines("services:", "  web: [a, b"), message: /invalid YAML/ },
    { name: "bad indentation", text: lines("services:", "  web:", "    image: a", "   ports: []"), message: /invalid YAML/ },
    { name: "two documents", text: lines("a: 1", "---", "b: 2"), problem: "c.yaml:2:1: a stack file holds one YAML document; this one has a second `---` document", message: /invalid YAML/ },
    { name: "a list at the top", text: lines("- a"), message: /^c\.yaml:1:1: the stack file must be a mapping of top-level keys, not a list/ },
    { name: "a scalar at the top", text: "hello\n", message: /must be a mapping of top-level keys, not "hello"/ },
    { name: "undefined alias", text: lines("a: *nope"), problem: 'c.yaml:1:9: unidentified alias "nope"', message: /invalid YAML/ },
    { name: "unknown tag", text: lines("a: !custom x"), problem: "c.yaml:1:13: unknown tag !<!custom>", message: /invalid YAML/ },
    { name: "merge key of a scalar", text: lines("a: &a x", "b:", "  <<: *a"), message: /invalid YAML/ },
    { name: "self-referencing anchor", text: lines("a: &a [1, *a]"), message: /too many YAML aliases/ },
  ];
  it.each(errors)("error: $name", ({ text, problem, message }) => {
    let caught: unknown;
    try {
      parseYamlFile(text, "c.yaml");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidInputError);
    const err = caught as InvalidInputError;
    expect(err.message).toMatch(message);
    if (problem) expect(err.problems).toContain(problem);
    expect(err.hint).toBeTruthy();
  });
});

describe("alias bombs", () => {
  it("refuses a nested billion-laughs file quickly", () => {
    const l = ['l0: &l0 "lol"'];
    for (let i = 1; i <= 9; i++) l.push(`l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(", ")}]`);
    const t = performance.now();
    expect(() => parseYamlFile(l.join("\n"), "bomb.yaml")).toThrow("bomb.yaml: too many YAML aliases (its aliases expand to more than 1000000 values)");
    expect(performance.now() - t).toBeLessThan(1000);
  });

  it("refuses a billion-laughs file that the fast reader does not read (a block scalar sends it to js-yaml)", () => {
    const l = ["note: |", "  a block scalar", 'l0: &l0 "lol"'];
    for (let i = 1; i <= 9; i++) l.push(`l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(", ")}]`);
    expect(() => parseYamlFile(l.join("\n"), "bomb.yaml")).toThrow("bomb.yaml: too many YAML aliases (its aliases expand to more than 1000000 values)");
  });

  it("counts values shared through merge keys (not anchored themselves) each time they are merged", () => {
    // 600 merges of an anchor whose one key holds a list of 2000 values: 1.2 million values, from 600 aliases.
    const big = `x0: &x0\n  big: [${Array(2000).fill("v").join(", ")}]\n`;
    const merges = Array.from({ length: 600 }, (_, i) => `m${i}:\n  <<: *x0\n`).join("");
    expect(() => parseYamlFile(big + merges, "merges.yaml")).toThrow("merges.yaml: too many YAML aliases (its aliases expand to more than 1000000 values)");
    // One merge fewer than the limit needs is accepted, and every merged list is the anchor's own.
    const few = Array.from({ length: 400 }, (_, i) => `m${i}:\n  <<: *x0\n`).join("");
    const f = parseYamlFile(big + few, "merges.yaml");
    expect((f.doc.m399 as { big: unknown[] }).big).toHaveLength(2000);
  });

  // bench/config.mjs holds the goal (under a second, the whole CLI); here,
  // among other tests on 2 shared cores, the bound only shows that the file
  // is refused before anything is expanded (that would take minutes, or all
  // the memory).
  it("refuses a file of 10^6 aliases at once", () => {
    const text = "a: &a [x]\nb:\n" + "  - *a\n".repeat(1_000_000);
    const t = performance.now();
    expect(() => parseYamlFile(text, "flood.yaml")).toThrow(`flood.yaml: too many YAML aliases (more than ${MAX_ALIASES} aliases)`);
    expect(performance.now() - t).toBeLessThan(5000);
  });

  it("accepts a file that uses an anchor many times, as real stack files do", () => {
    const services = Array.from({ length: 300 }, (_, i) => `  s${i}:\n    <<: *common\n    image: img${i}`).join("\n");
    const f = parseYamlFile(`x-common: &common\n  restart: always\n  labels: {a: b}\nservices:\n${services}\n`, "many.yaml");
    expect(Object.keys(f.doc.services as object)).toHaveLength(300);
    expect((f.doc.services as Record<string, unknown>).s299).toEqual({ restart: "always", labels: { a: "b" }, image: "img299" });
  });

  it("does not count '*' inside quoted or block scalars as aliases", () => {
    const body = Array.from({ length: MAX_ALIASES + 5 }, () => '  - "*.log"').join("\n");
    const block = "script: |\n" + Array.from({ length: MAX_ALIASES + 5 }, () => "  *bold*").join("\n");
    expect(() => parseYamlFile(`globs:\n${body}\n${block}\n`, "q.yaml")).not.toThrow();
  });
});
