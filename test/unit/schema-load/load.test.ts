// The pipeline wiring with fake validation/normalization/checks and an
// in-memory file system: what reaches the normalizer, in which form.
import { describe, expect, it } from "vitest";
import { InvalidInputError, NotFoundError } from "../../../src/errors.js";
import type { SourceReader } from "../../../src/schema/discover.js";
import { loadStackWith, type LoadDeps, type LoadOptions } from "../../../src/schema/load.js";
import type { ServiceModel, StackModel } from "../../../src/schema/model.js";
import type { Location, ParsedFile, PathSegment, Problem } from "../../../src/schema/source.js";
import { makeService, makeStack } from "../../helpers/model.js";

type Doc = Record<string, unknown>;
type NormalizeArg = Parameters<LoadDeps["normalizeStack"]>[0];

function memoryReader(files: Record<string, string>): SourceReader {
  return { readText: (p) => (Object.hasOwn(files, p) ? files[p] : undefined) };
}

interface Run {
  input: NormalizeArg;
  validated: ParsedFile[];
  model: StackModel;
  warnings: string[];
}

/** Runs the pipeline; the fake normalizer turns each service into a model service with its profiles and depends_on. */
function run(files: Record<string, string>, opts: Partial<LoadOptions> = {}, fakes: Partial<Pick<LoadDeps, "validateFile" | "checkStack">> = {}): Run {
  let input: NormalizeArg | undefined;
  const validated: ParsedFile[] = [];
  const deps: LoadDeps = {
    reader: memoryReader(files),
    validateFile: (f) => {
      validated.push(f);
      return fakes.validateFile?.(f) ?? [];
    },
    normalizeStack: (i) => {
      input = i;
      const services = Object.entries((i.doc.services ?? {}) as Record<string, Doc>).map(([name, s]): ServiceModel => {
        const deps = Array.isArray(s?.depends_on) ? s.depends_on : Object.keys((s?.depends_on as Doc) ?? {});
        return makeService(name, {
          profiles: (s?.profiles as string[]) ?? [],
          depends_on: Object.fromEntries(deps.map((d: string) => [d, { condition: "service_started", required: true, restart: false }])),
        });
      });
      return { model: makeStack(services, { name: i.name, project_dir: i.projectDir, files: i.files }), warnings: ["normalizer warning"] };
    },
    checkStack: (m, locate) => fakes.checkStack?.(m, locate) ?? [],
  };
  const result = loadStackWith(deps, { files: [], cwd: "/proj", env: {}, profiles: [], envFiles: [], interpolate: true, ...opts });
  return { input: input!, validated, model: result.model, warnings: result.warnings };
}

const services = (r: Run) => r.input.doc.services as Record<string, Doc>;

describe("loadStackWith: files, .env and interpolation", () => {
  it("discovers compose.yaml + its override twin and merges them in order", () => {
    const r = run({
      "/proj/compose.yaml": "services:\n  web:\n    image: nginx\n    ports: ['80:80']\n",
      "/proj/compose.override.yaml": "services:\n  web:\n    ports: ['8080:80']\n    environment: [A=1]\n",
    });
    expect(r.input.files).toEqual(["/proj/compose.yaml", "/proj/compose.override.yaml"]);
    expect(r.input.projectDir).toBe("/proj");
    expect(r.input.name).toBe("proj");
    expect(services(r).web).toEqual({ image: "nginx", ports: ["80:80", "8080:80"], environment: ["A=1"] });
    expect(r.validated.map((f) => f.path)).toEqual(["compose.yaml", "compose.override.yaml"]);
    expect(r.warnings).toContain("normalizer warning");
  });

  it("interpolates with the shell environment over .env; .env values may use the shell's", () => {
    const r = run(
      {
        "/proj/compose.yaml": "name: ${PROJ}\nservices:\n  web:\n    image: ${IMAGE}:${TAG}\n    environment: {HOME: $HOME}\n",
        "/proj/.env": "IMAGE=fromdotenv\nTAG=1\nPROJ=demo\nHOME=/dotenv\nDERIVED=${HOME}/x\n",
      },
      { env: { TAG: "2", HOME: "/root" } },
    );
    expect(services(r).web).toEqual({ image: "fromdotenv:2", environment: { HOME: "/root" } });
    expect(r.input.name).toBe("demo");
    expect(r.input.env).toMatchObject({ IMAGE: "fromdotenv", TAG: "2", HOME: "/root", DERIVED: "/root/x" });
  });

  it("--env-file replaces .env (later files win); a missing one is NotFound", () => {
    const files = { "/proj/compose.yaml": "services: {web: {image: '$A-$B'}}\n", "/proj/.env": "A=dotenv\n", "/proj/one.env": "A=one\nB=one\n", "/proj/two.env": "B=two\n" };
    expect(services(run(files, { envFiles: ["one.env", "two.env"] })).web!.image).toBe("one-two");
    expect(() => run(files, { envFiles: ["nope.env"] })).toThrow(NotFoundError);
    expect(() => run(files, { envFiles: ["nope.env"] })).toThrow("env file nope.env not found");
  });

  it("warns once per unset variable, with its first location", () => {
    const r = run(
      { "/proj/a.yaml": "services:\n  web:\n    image: $NOPE\n", "/proj/b.yaml": "services:\n  web:\n    command: echo ${NOPE} $ALSO\n" },
      { files: ["a.yaml", "b.yaml"] },
    );
    expect(r.warnings.filter((w) => w.includes("not set"))).toEqual(['a.yaml:3:12: variable "NOPE" is not set; using an empty string', 'b.yaml:3:14: variable "ALSO" is not set; using an empty string']);
  });

  it("interpolate: false keeps the variables as written", () => {
    const r = run({ "/proj/compose.yaml": "services: {web: {image: '${IMAGE:-x}'}}\n" }, { interpolate: false });
    expect(services(r).web!.image).toBe("${IMAGE:-x}");
  });

  it("reads - from stdin; the project directory is then the working directory", () => {
    const r = run({}, { files: ["-"], readStdin: () => "services: {web: {image: stdin}}\n" });
    expect(services(r).web!.image).toBe("stdin");
    expect(r.input.files).toEqual(["-"]);
    expect(r.input.projectDir).toBe("/proj");
  });

  it("STACK_FILE may come from the working directory's .env", () => {
    const files = { "/proj/.env": "STACK_FILE=a.yaml:b.yaml\n", "/proj/a.yaml": "services: {web: {image: a}}\n", "/proj/b.yaml": "services: {web: {image: b}}\n", "/proj/compose.yaml": "services: {}\n" };
    expect(run(files).input.files).toEqual(["/proj/a.yaml", "/proj/b.yaml"]);
    expect(services(run(files)).web!.image).toBe("b");
    expect(run(files, { env: { STACK_FILE: "compose.yaml" } }).input.files).toEqual(["/proj/compose.yaml"]);
  });

  it("- without a stdin reader is an error", () => {
    expect(() => run({}, { files: ["-"] })).toThrow("`-f -` reads the stack file from stdin, but no input is available");
  });

  it("passes each warning to opts.warn as well, once", () => {
    const seen: string[] = [];
    const r = run({ "/proj/compose.yaml": "services: {web: {image: $X, command: $X}}\n" }, { warn: (m) => seen.push(m) });
    expect(seen).toEqual(['compose.yaml:1:25: variable "X" is not set; using an empty string', "normalizer warning"]);
    expect(r.warnings).toEqual(seen);
  });

  it("a missing -f file is NotFound", () => {
    expect(() => run({}, { files: ["x.yaml"] })).toThrow(NotFoundError);
    expect(() => run({}, { files: ["x.yaml"] })).toThrow("stack file x.yaml not found");
  });

  it("gives the normalizer an env_file reader (dotenv with the environment, raw, missing)", () => {
    const r = run(
      { "/proj/compose.yaml": "services: {web: {image: x}}\n", "/proj/app.env": "A=${TAG:-d}\nB='q'\n", "/proj/.env": "TAG=7\n" },
      { env: {} },
    );
    expect(r.input.readEnvFile("/proj/app.env")).toEqual({ A: "7", B: "q" });
    expect(r.input.readEnvFile("/proj/app.env", "raw")).toEqual({ A: "${TAG:-d}", B: "'q'" });
    expect(r.input.readEnvFile("/proj/none.env")).toBeUndefined();
    expect(() => r.input.readEnvFile("/proj/compose.yaml")).toThrow(/compose\.yaml:1: invalid line/);
  });

  it("locate points at the last file that wrote a path", () => {
    const r = run({ "/proj/compose.yaml": "services:\n  web:\n    image: a\n    restart: always\n", "/proj/compose.override.yaml": "services:\n  web:\n    image: b\n" });
    expect(r.input.locate!(["services", "web", "image"])).toEqual({ file: "compose.override.yaml", line: 3, col: 12 });
    expect(r.input.locate!(["services", "web", "restart"])).toEqual({ file: "compose.yaml", line: 4, col: 14 });
  });
});

describe("loadStackWith: problems", () => {
  it("collects the validation problems of every file into one error", () => {
    const validateFile = (f: ParsedFile): Problem[] => [{ path: ["services", "web", "image"], location: f.locate(["services", "web", "image"]), message: `bad in ${f.path}` }];
    let caught: unknown;
    try {
      run({ "/proj/compose.yaml": "services:\n  web:\n    image: a\n", "/proj/compose.override.yaml": "services:\n  web:\n    image: b\n" }, {}, { validateFile });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidInputError);
    const err = caught as InvalidInputError;
    expect(err.message).toBe("2 problems in the stack files");
    expect(err.problems).toEqual(["compose.yaml:3:12: services.web.image: bad in compose.yaml", "compose.override.yaml:3:12: services.web.image: bad in compose.override.yaml"]);
  });

  it("semantic problems from checkStack are thrown the same way, located through the merged files", () => {
    const checkStack = (_m: StackModel, locate?: (p: PathSegment[]) => Location | undefined): Problem[] => [
      { path: ["services", "web", "depends_on"], location: locate?.(["services", "web", "depends_on"]), message: 'unknown service "x"', hint: "h" },
    ];
    expect(() => run({ "/proj/compose.yaml": "services:\n  web:\n    depends_on: [x]\n" }, {}, { checkStack })).toThrow("1 problem in the stack file");
    try {
      run({ "/proj/compose.yaml": "services:\n  web:\n    depends_on: [x]\n" }, {}, { checkStack });
    } catch (e) {
      expect((e as InvalidInputError).problems).toEqual(['compose.yaml:3:17: services.web.depends_on: unknown service "x" (h)']);
    }
  });

  it("an invalid explicit project name is an error", () => {
    expect(() => run({ "/proj/compose.yaml": "name: Bad.Name\nservices: {}\n" })).toThrow(/invalid project name "Bad.Name"/);
  });
});

describe("loadStackWith: extends", () => {
  it("same file, chains, and the local keys merging over the base", () => {
    const r = run({
      "/proj/compose.yaml": [
        "services:",
        "  base:",
        "    image: base",
        "    environment: {A: '1', B: '1'}",
        "    ports: ['80:80']",
        "  mid:",
        "    extends: base",
        "    environment: {B: '2'}",
        "  web:",
        "    extends: {service: mid}",
        "    ports: !override ['81:81']",
        "    command: run",
        "",
      ].join("\n"),
    });
    expect(services(r).web).toEqual({ image: "base", environment: { A: "1", B: "2" }, ports: ["81:81"], command: "run" });
    expect(services(r).mid).toEqual({ image: "base", environment: { A: "1", B: "2" }, ports: ["80:80"] });
    expect(Object.keys(services(r))).toEqual(["base", "mid", "web"]);
    // A key that came from the base is located in the base.
    expect(r.input.locate!(["services", "web", "image"])).toEqual({ file: "compose.yaml", line: 3, col: 12 });
    expect(r.input.locate!(["services", "web", "command"])).toEqual({ file: "compose.yaml", line: 12, col: 14 });
  });

  it("another file, relative to the extending file; its relative paths keep their meaning", () => {
    const r = run({
      "/proj/compose.yaml": "services:\n  web:\n    extends: {file: common/base.yaml, service: app}\n    image: web\n",
      "/proj/common/base.yaml": "services:\n  app:\n    build: ./src\n    env_file: app.env\n    volumes: ['./data:/data', 'named:/n']\n    image: base\n",
    });
    expect(services(r).web).toEqual({ build: "/proj/common/src", env_file: "/proj/common/app.env", volumes: ["/proj/common/data:/data", "named:/n"], image: "web" });
    expect(r.validated.map((f) => f.path)).toEqual(["compose.yaml", "common/base.yaml"]);
  });

  const errors: Array<{ name: string; files: Record<string, string>; error: typeof InvalidInputError | typeof NotFoundError; message: string }> = [
    {
      name: "cycle lists the chain",
      files: { "/proj/compose.yaml": "services:\n  a: {extends: b}\n  b: {extends: c}\n  c: {extends: a}\n" },
      error: InvalidInputError,
      message: "compose.yaml:4:16: services.c.extends: extends cycle: a -> b -> c -> a",
    },
    { name: "self", files: { "/proj/compose.yaml": "services:\n  a:\n    extends: a\n" }, error: InvalidInputError, message: "extends cycle: a -> a" },
    {
      name: "cycle across files",
      files: { "/proj/compose.yaml": "services:\n  a: {extends: {file: o.yaml, service: b}}\n", "/proj/o.yaml": "services:\n  b: {extends: {file: compose.yaml, service: a}}\n" },
      error: InvalidInputError,
      message: "extends cycle: a -> o.yaml#b -> a",
    },
    { name: "unknown service", files: { "/proj/compose.yaml": "services:\n  a:\n    extends: nope\n" }, error: InvalidInputError, message: 'compose.yaml:3:14: services.a.extends: service "nope" not found' },
    { name: "unknown service in another file", files: { "/proj/compose.yaml": "services:\n  a:\n    extends: {file: o.yaml, service: x}\n", "/proj/o.yaml": "services: {y: {}}\n" }, error: InvalidInputError, message: 'service "x" not found in o.yaml' },
    { name: "missing file", files: { "/proj/compose.yaml": "services:\n  a:\n    extends: {file: gone.yaml, service: x}\n" }, error: NotFoundError, message: "stack file gone.yaml (named by `extends`) not found" },
    { name: "malformed", files: { "/proj/compose.yaml": "services:\n  a:\n    extends: [x]\n" }, error: InvalidInputError, message: 'services.a.extends: ["x"] is not a service to extend' },
  ];
  it.each(errors)("error: $name", ({ files, error, message }) => {
    expect(() => run(files)).toThrow(error);
    expect(() => run(files)).toThrow(message);
  });
});

describe("loadStackWith: include", () => {
  it("imports services, networks and volumes of included projects (string and mapping forms)", () => {
    const r = run({
      "/proj/compose.yaml": "include:\n  - db/compose.yaml\n  - path: [cache/a.yaml, cache/b.yaml]\n    project_directory: cache\n    env_file: cache/vars.env\nservices:\n  web: {image: web, depends_on: [db]}\n",
      "/proj/db/compose.yaml": "services:\n  db:\n    image: pg:${PG:-15}\n    volumes: ['./init:/docker-entrypoint-initdb.d', 'data:/var/lib/pg']\nvolumes:\n  data: {}\n",
      "/proj/db/.env": "PG=16\n",
      "/proj/cache/a.yaml": "services:\n  cache: {image: 'redis:${REDIS}'}\n",
      "/proj/cache/b.yaml": "services:\n  cache: {command: redis-server}\nnetworks:\n  back: {}\n",
      "/proj/cache/vars.env": "REDIS=7\n",
    });
    expect(services(r)).toEqual({
      web: { image: "web", depends_on: ["db"] },
      db: { image: "pg:16", volumes: ["/proj/db/init:/docker-entrypoint-initdb.d", "data:/var/lib/pg"] },
      cache: { image: "redis:7", command: "redis-server" },
    });
    expect(r.input.doc.volumes).toEqual({ data: {} });
    expect(r.input.doc.networks).toEqual({ back: {} });
    expect(r.input.doc.include).toBeUndefined();
    expect(r.input.locate!(["services", "db", "image"])).toEqual({ file: "db/compose.yaml", line: 3, col: 12 });
  });

  it("the including project's environment wins over the included .env", () => {
    const r = run({ "/proj/compose.yaml": "include: [sub/compose.yaml]\n", "/proj/sub/compose.yaml": "services: {s: {image: '$V'}}\n", "/proj/sub/.env": "V=sub\n", "/proj/.env": "V=main\n" });
    expect(services(r).s!.image).toBe("main");
  });

  it("an identical resource on both sides is fine", () => {
    const r = run({ "/proj/compose.yaml": "include: [sub.yaml]\nnetworks: {n: {}}\n", "/proj/sub.yaml": "networks: {n: {}}\nservices: {}\n" });
    expect(r.input.doc.networks).toEqual({ n: {} });
  });

  const errors: Array<{ name: string; files: Record<string, string>; error: typeof InvalidInputError | typeof NotFoundError; message: string }> = [
    {
      name: "a conflicting service",
      files: { "/proj/compose.yaml": "include: [sub/c.yaml]\nservices: {db: {image: a}}\n", "/proj/sub/c.yaml": "services: {db: {image: b}}\n" },
      error: InvalidInputError,
      message: "sub/c.yaml (included by compose.yaml) defines services.db, which compose.yaml also defines differently",
    },
    { name: "a cycle", files: { "/proj/compose.yaml": "include: [a.yaml]\n", "/proj/a.yaml": "include: [compose.yaml]\n" }, error: InvalidInputError, message: "include cycle: compose.yaml -> a.yaml -> compose.yaml" },
    { name: "a missing file", files: { "/proj/compose.yaml": "include: [gone.yaml]\n" }, error: NotFoundError, message: "stack file gone.yaml not found" },
    { name: "a malformed entry", files: { "/proj/compose.yaml": "include:\n  - {project_directory: x}\n" }, error: InvalidInputError, message: "compose.yaml:2:5: include[0]: the include entry has no `path`" },
    { name: "a path that is not a path", files: { "/proj/compose.yaml": "include:\n  - path: [a.yaml, 5]\n" }, error: InvalidInputError, message: 'include[0]: path ["a.yaml",5] is not a path or a list of paths' },
    { name: "an entry that is not an entry", files: { "/proj/compose.yaml": "include:\n  - 7\n" }, error: InvalidInputError, message: "include[0]: 7 is not an include entry" },
    { name: "a missing include env_file", files: { "/proj/compose.yaml": "include:\n  - {path: a.yaml, env_file: no.env}\n", "/proj/a.yaml": "services: {}\n" }, error: NotFoundError, message: "env file no.env not found" },
  ];
  it.each(errors)("error: $name", ({ files, error, message }) => {
    expect(() => run(files)).toThrow(error);
    expect(() => run(files)).toThrow(message);
  });
});

describe("loadStackWith: profiles and named services", () => {
  const files = { "/proj/compose.yaml": "services:\n  web: {image: w}\n  debug: {image: d, profiles: [debug]}\n  tool: {image: t, profiles: [tools]}\n" };
  it("splits by the active profiles (flags, else STACK_PROFILES)", () => {
    expect(Object.keys(run(files).model.services)).toEqual(["web"]);
    expect(Object.keys(run(files).model.disabled_services)).toEqual(["debug", "tool"]);
    expect(Object.keys(run(files, { profiles: ["debug"] }).model.services)).toEqual(["debug", "web"]);
    expect(Object.keys(run(files, { env: { STACK_PROFILES: "tools,debug" } }).model.services)).toEqual(["debug", "tool", "web"]);
    expect(run(files, { env: { COMPOSE_PROFILES: "tools" } }).input.profiles).toEqual(["tools"]);
  });
  it("named services are enabled", () => {
    expect(Object.keys(run(files, { services: ["tool"] }).model.services)).toEqual(["tool", "web"]);
  });
});
