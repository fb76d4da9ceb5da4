import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidInputError, NotFoundError } from "../../../src/errors.js";
import { discoverStackFiles, fileSystemReader } from "../../../src/schema/discover.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "stack-discover-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function files(...names: string[]): void {
  for (const n of names) {
    mkdirSync(join(root, n, ".."), { recursive: true });
    writeFileSync(join(root, n), "services: {}\n");
  }
}

const discover = (input: { files?: string[]; cwd?: string; env?: Record<string, string>; projectDirectory?: string }) =>
  discoverStackFiles({ files: input.files ?? [], cwd: input.cwd ?? root, env: input.env ?? {}, projectDirectory: input.projectDirectory }, fileSystemReader);

describe("discoverStackFiles", () => {
  const standard: Array<{ name: string; present: string[]; expected: string[] }> = [
    { name: "stack.yaml first", present: ["compose.yaml", "stack.yaml"], expected: ["stack.yaml"] },
    { name: "compose.yaml", present: ["compose.yaml", "docker-compose.yml"], expected: ["compose.yaml"] },
    { name: "compose.yml", present: ["compose.yml"], expected: ["compose.yml"] },
    { name: "docker-compose.yaml", present: ["docker-compose.yaml"], expected: ["docker-compose.yaml"] },
    { name: "docker-compose.yml with its override twin", present: ["docker-compose.yml", "docker-compose.override.yml"], expected: ["docker-compose.yml", "docker-compose.override.yml"] },
    { name: "compose.yaml with a .yml twin", present: ["compose.yaml", "compose.override.yml"], expected: ["compose.yaml", "compose.override.yml"] },
    { name: "stack.yaml twin", present: ["stack.yaml", "stack.override.yaml"], expected: ["stack.yaml", "stack.override.yaml"] },
    { name: "another name's twin is not taken", present: ["stack.yaml", "compose.override.yaml"], expected: ["stack.yaml"] },
  ];
  it.each(standard)("$name", ({ present, expected }) => {
    files(...present);
    const d = discover({});
    expect(d.files).toEqual(expected.map((e) => ({ path: join(root, e), display: e })));
    expect(d.projectDir).toBe(root);
  });

  it("warns when several standard names exist", () => {
    files("compose.yaml", "docker-compose.yml");
    expect(discover({}).warnings).toEqual([`found several stack files in ${root}: compose.yaml, docker-compose.yml; using compose.yaml`]);
  });

  it("searches parent directories; the project directory is the file's folder", () => {
    files("compose.yaml", "compose.override.yaml");
    mkdirSync(join(root, "a/b"), { recursive: true });
    const d = discover({ cwd: join(root, "a/b") });
    expect(d.files).toEqual([
      { path: join(root, "compose.yaml"), display: "../../compose.yaml" },
      { path: join(root, "compose.override.yaml"), display: "../../compose.override.yaml" },
    ]);
    expect(d.projectDir).toBe(root);
  });

  it("-f files are taken as given, in order, with no twin; stdin is '-'", () => {
    files("compose.yaml", "compose.override.yaml", "sub/extra.yaml");
    const d = discover({ files: ["compose.yaml", "-", "sub/extra.yaml"] });
    expect(d.files).toEqual([
      { path: join(root, "compose.yaml"), display: "compose.yaml" },
      { path: "-", display: "-" },
      { path: join(root, "sub/extra.yaml"), display: "sub/extra.yaml" },
    ]);
  });

  it("the project directory of -f sub/x.yaml is sub/; of stdin the working directory", () => {
    expect(discover({ files: ["sub/x.yaml"] }).projectDir).toBe(join(root, "sub"));
    expect(discover({ files: ["-"] }).projectDir).toBe(root);
    expect(discover({ files: ["sub/x.yaml"], projectDirectory: "other" }).projectDir).toBe(join(root, "other"));
  });

  it("STACK_FILE (and COMPOSE_FILE) is a path-separator list", () => {
    const d = discover({ env: { STACK_FILE: "a.yaml:b/c.yaml", COMPOSE_FILE: "ignored.yaml" } });
    expect(d.files.map((f) => f.path)).toEqual([join(root, "a.yaml"), join(root, "b/c.yaml")]);
    expect(discover({ env: { COMPOSE_FILE: "x.yaml" } }).files.map((f) => f.display)).toEqual(["x.yaml"]);
    expect(discover({ env: { COMPOSE_FILE: "x.yaml;y.yaml", COMPOSE_PATH_SEPARATOR: ";" } }).files.map((f) => f.display)).toEqual(["x.yaml", "y.yaml"]);
  });

  it("-f wins over STACK_FILE", () => {
    expect(discover({ files: ["f.yaml"], env: { STACK_FILE: "e.yaml" } }).files.map((f) => f.display)).toEqual(["f.yaml"]);
  });

  it("--project-directory is where the search starts", () => {
    files("proj/compose.yaml");
    const d = discover({ projectDirectory: "proj" });
    expect(d.files.map((f) => f.display)).toEqual(["proj/compose.yaml"]);
    expect(d.projectDir).toBe(join(root, "proj"));
  });

  it("nothing found: NotFoundError naming the folder, the names and a hint", () => {
    mkdirSync(join(root, "empty"));
    let caught: unknown;
    try {
      discover({ cwd: join(root, "empty") });
    } catch (e) {
      caught = e;
    }
    // A stack file in a real parent of the temp dir would be found instead; there is none on this host.
    expect(caught).toBeInstanceOf(NotFoundError);
    expect((caught as NotFoundError).message).toBe(`no stack file found in ${join(root, "empty")} or any parent directory (looked for stack.yaml, compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)`);
    expect((caught as NotFoundError).hint).toMatch(/-f FILE/);
  });

  it("the reader refuses a directory with a clear error", () => {
    mkdirSync(join(root, "dir.yaml"));
    expect(() => fileSystemReader.readText(join(root, "dir.yaml"))).toThrow(InvalidInputError);
    expect(() => fileSystemReader.readText(join(root, "dir.yaml"))).toThrow(/is a directory/);
    expect(fileSystemReader.readText(join(root, "missing.yaml"))).toBeUndefined();
  });
});
