// The warm run's reading of `stack … run …` (run-argv.ts) and its guess of
// the project (run-handoff.ts): what it does not read exactly must answer
// undefined, so commander and the local path handle it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { parseRunInvocation } from "../../../src/cli/run-argv.js";
import { guessProject } from "../../../src/cli/run-handoff.js";

describe("parseRunInvocation", () => {
  const cases: Array<{ name: string; args: string[]; expected: unknown }> = [
    {
      name: "plain run",
      args: ["run", "--rm", "-T", "app", "sh", "-c", "echo hi"],
      expected: { service: "app", command: ["sh", "-c", "echo hi"], flags: { rm: true, tty: false, env: [], volume: [], publish: [], label: [] }, globals: { file: [], profile: [], envFile: [] } },
    },
    {
      name: "global options before run, repeatable run options, -p means publish after run",
      args: ["-f", "a.yaml", "-f", "b.yaml", "-p", "proj", "--env-file", "x.env", "run", "-e", "A=1", "-e", "B", "-p", "8080:80", "--name", "one", "--no-deps", "-w", "/srv", "app"],
      expected: {
        service: "app",
        command: [],
        flags: { env: ["A=1", "B"], volume: [], publish: ["8080:80"], label: [], name: "one", deps: false, workdir: "/srv" },
        globals: { file: ["a.yaml", "b.yaml"], projectName: "proj", profile: [], envFile: ["x.env"] },
      },
    },
    { name: "options after the service belong to the command", args: ["run", "app", "ls", "-la", "--rm"], expected: { service: "app", command: ["ls", "-la", "--rm"] } },
    { name: "not run", args: ["up", "-d"], expected: undefined },
    { name: "run without a service", args: ["run", "--rm"], expected: undefined },
    { name: "an unknown option", args: ["run", "--pull", "always", "app"], expected: undefined },
    { name: "a combined short option", args: ["run", "-Ti", "app"], expected: undefined },
    { name: "an inline value", args: ["run", "--name=x", "app"], expected: undefined },
    { name: "a value that looks like an option", args: ["run", "--name", "--rm", "app"], expected: undefined },
    { name: "an unknown global option", args: ["--dry-run", "run", "app"], expected: undefined },
    { name: "help anywhere", args: ["run", "app", "--help"], expected: undefined },
    { name: "a double dash", args: ["run", "app", "--", "ls"], expected: undefined },
    { name: "a global option without its value", args: ["-f"], expected: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = parseRunInvocation(c.args);
      if (c.expected === undefined) expect(got).toBeUndefined();
      else expect(got).toMatchObject(c.expected as object);
    });
  }
});

describe("guessProject", () => {
  const dir = mkdtempSync("/tmp/stack-run-guess-");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const inv = (args: string[]) => parseRunInvocation([...args, "run", "app"])!;
  const at = (name: string, files: Record<string, string>) => {
    const d = join(dir, name);
    mkdirSync(join(d, "sub"), { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
    return d;
  };

  test("-p, then STACK_PROJECT_NAME, then COMPOSE_PROJECT_NAME", () => {
    expect(guessProject(inv(["-p", "flag"]), { STACK_PROJECT_NAME: "env" }, dir)).toBe("flag");
    expect(guessProject(inv([]), { STACK_PROJECT_NAME: "env", COMPOSE_PROJECT_NAME: "other" }, dir)).toBe("env");
    expect(guessProject(inv([]), { STACK_PROJECT_NAME: "", COMPOSE_PROJECT_NAME: "other" }, dir)).toBe("other");
  });
  test("the stack file's name:, found from a subfolder", () => {
    const d = at("Named_Dir", { "compose.yaml": "name: 'shop'\nservices: {}\n" });
    expect(guessProject(inv([]), {}, join(d, "sub"))).toBe("shop");
  });
  test("the folder's name, normalised, when the file has no name:", () => {
    const d = at("My.Dir", { "compose.yaml": "services: {}\n" });
    expect(guessProject(inv([]), {}, d)).toBe("mydir");
  });
  test("COMPOSE_PROJECT_NAME from the project's .env", () => {
    const d = at("withenv", { "compose.yaml": "services: {}\n", ".env": "A=1\nCOMPOSE_PROJECT_NAME=fromdotenv\n" });
    expect(guessProject(inv([]), {}, d)).toBe("fromdotenv");
  });
  test("no guess for an interpolated name, stdin, or STACK_FILE", () => {
    const d = at("interp", { "compose.yaml": "name: ${NAME}\nservices: {}\n" });
    expect(guessProject(inv([]), {}, d)).toBeUndefined();
    expect(parseRunInvocation(["-f", "-", "run", "app"])).toBeUndefined(); // stdin cannot be read twice: never handed off
    expect(guessProject(inv([]), { STACK_FILE: "x.yaml" }, d)).toBeUndefined();
  });
  test("-f names the file, --project-directory the folder", () => {
    const d = at("byflag", { "other.yaml": "services: {}\n" });
    expect(guessProject(inv(["-f", "other.yaml"]), {}, d)).toBe("byflag");
    expect(guessProject(inv(["-f", "other.yaml", "--project-directory", "sub"]), {}, d)).toBe("sub");
  });
});
