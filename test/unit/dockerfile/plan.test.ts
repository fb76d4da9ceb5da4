import { describe, expect, it } from "vitest";
import { InvalidInputError, NotFoundError } from "../../../src/errors.js";
import { loadDockerfile, parseInstructions } from "../../../src/image/dockerfile/instructions.js";
import { parseDockerfile } from "../../../src/image/dockerfile/parser.js";
import { planBuild, type PlanOptions } from "../../../src/image/dockerfile/plan.js";

const amd64 = { os: "linux", architecture: "amd64" };

function plan(text: string, options: Partial<PlanOptions> = {}) {
  const parsed = parseDockerfile(text);
  return planBuild(parseInstructions(parsed), { buildArgs: {}, platform: amd64, escapeToken: parsed.directives.escapeToken, ...options });
}

const multi = `
FROM golang:1.22 AS build
RUN go build -o /app .
FROM node:20 AS web
RUN npm run build
FROM build AS test
RUN go test
FROM debian:12 AS lint
FROM scratch AS final
COPY --from=build /app /app
COPY --from=web /dist /www
COPY --from=nginx:1.25 /etc/nginx /etc/nginx
`;

describe("planBuild: stages and dependencies", () => {
  it("finds bases, dependencies and parallel levels for the last stage", () => {
    const p = plan(multi);
    expect(p.stages.map((s) => [s.index, s.name, s.base])).toEqual([
      [0, "build", { kind: "image", ref: "golang:1.22" }],
      [1, "web", { kind: "image", ref: "node:20" }],
      [2, "test", { kind: "stage", index: 0 }],
      [3, "lint", { kind: "image", ref: "debian:12" }],
      [4, "final", { kind: "scratch" }],
    ]);
    expect(p.stages[4]!.dependsOn).toEqual([0, 1]);
    expect(p.stages[4]!.images).toEqual(["nginx:1.25"]);
    expect(p.target).toBe(4);
    expect(p.levels).toEqual([[0, 1], [4]]);
  });

  it("builds only what the target needs", () => {
    expect(plan(multi, { target: "test" }).levels).toEqual([[0], [2]]);
    expect(plan(multi, { target: "LINT" }).levels).toEqual([[3]]);
  });

  it("follows COPY --from by index and RUN --mount from=", () => {
    const p = plan("FROM a\nFROM b AS deps\nFROM c\nCOPY --from=0 /x /x\nRUN --mount=type=bind,from=deps,target=/d true\n");
    expect(p.stages[2]!.dependsOn).toEqual([0, 1]);
    expect(p.levels).toEqual([[0, 1], [2]]);
  });

  it("treats a later stage name as an image (stages only see earlier ones)", () => {
    const p = plan("FROM late AS first\nFROM alpine AS late\n");
    expect(p.stages[0]!.base).toEqual({ kind: "image", ref: "late" });
  });

  it("rejects an unknown target with a suggestion", () => {
    expect(() => plan(multi, { target: "biuld" })).toThrow(NotFoundError);
    try {
      plan(multi, { target: "biuld" });
    } catch (e) {
      expect((e as NotFoundError).hint).toBe('did you mean "build"?');
    }
  });

  it("rejects COPY --from of a stage index that is not earlier", () => {
    expect(() => plan("FROM a\nCOPY --from=1 /x /x\nFROM b\n")).toThrow(/^Dockerfile:2: "1" refers to stage 1/);
  });
});

describe("planBuild: ARG scoping and substitution", () => {
  it("uses meta ARGs in FROM only; a stage must re-declare them", () => {
    const p = plan("ARG TAG=3.19\nARG REPO\nFROM alpine:${TAG}\nRUN echo\nWORKDIR /v$TAG\nARG TAG\nWORKDIR /v$TAG\n", { buildArgs: { REPO: "x" } });
    expect(p.stages[0]!.base).toEqual({ kind: "image", ref: "alpine:3.19" });
    expect(p.metaArgs).toEqual({ REPO: "x", TAG: "3.19" });
    const values = p.stages[0]!.steps.map((s) => (s.expanded.kind === "workdir" ? s.expanded.value : undefined)).filter(Boolean);
    expect(values).toEqual(["/v", "/v3.19"]);
  });

  it("lets --build-arg override defaults, in FROM and in a stage", () => {
    const p = plan("ARG TAG=1\nFROM img:$TAG\nARG MODE=dev\nENV M=$MODE\n", { buildArgs: { TAG: "2", MODE: "prod", UNUSED: "x", HTTP_PROXY: "http://p" } });
    expect(p.stages[0]!.base).toEqual({ kind: "image", ref: "img:2" });
    expect(p.stages[0]!.steps[1]!.env).toEqual({ M: "prod" });
    expect(p.unusedBuildArgs).toEqual(["UNUSED"]);
  });

  it("gives RUN the proxy build args, the stage's ARGs and ENVs (ENV winning)", () => {
    const p = plan("FROM a\nARG A=1 B=2\nENV B=env\nRUN true\n", { buildArgs: { http_proxy: "http://p:3128", OTHER: "x" } });
    expect(p.stages[0]!.steps[2]!.runEnv).toEqual({ A: "1", B: "env", http_proxy: "http://p:3128" });
    expect(p.stages[0]!.steps[1]!.runEnv).toBeUndefined();
  });

  it("gives platform ARGs in FROM and to a stage that declares them", () => {
    const p = plan("FROM --platform=$BUILDPLATFORM golang AS b\nARG TARGETARCH\nARG TARGETOS\nENV GOARCH=$TARGETARCH OS=$TARGETOS P=$TARGETPLATFORM\n", {
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
      buildPlatform: amd64,
    });
    expect(p.stages[0]!.platform).toBe("linux/amd64");
    expect(p.stages[0]!.steps[2]!.env).toEqual({ GOARCH: "arm64", OS: "linux", P: "" });
  });

  it("expands ENV pairs with the values before the line, ENV overriding ARG", () => {
    const p = plan("FROM a\nARG v=arg\nENV v=env\nENV a=1 b=$a c=${v}\nLABEL l=\"$v x\"\n");
    const env = p.stages[0]!.steps[2]!;
    expect(env.expanded).toMatchObject({ kind: "env", pairs: [{ key: "a", value: "1" }, { key: "b", value: "" }, { key: "c", value: "env" }] });
    expect(p.stages[0]!.steps[3]!.expanded).toMatchObject({ kind: "label", pairs: [{ key: "l", value: "env x" }] });
  });

  it("expands COPY, ADD, EXPOSE, VOLUME, USER, STOPSIGNAL but not RUN, CMD or heredocs", () => {
    const p = plan(
      "FROM a\nARG D=/dst U=app P=\"80 443\" S=TERM\nCOPY --from=img:$U --chown=$U src/$U $D\nADD --chmod=${M:-644} a $D\nEXPOSE $P\nVOLUME /v/$U\nUSER $U\nSTOPSIGNAL SIG$S\nRUN echo $U\nCMD echo $U\n",
    );
    const e = p.stages[0]!.steps.map((s) => s.expanded);
    expect(e[1]).toMatchObject({ kind: "copy", from: "img:app", chown: "app", sources: ["src/app"], dest: "/dst" });
    expect(e[2]).toMatchObject({ kind: "add", chmod: "644" });
    expect(e[3]).toMatchObject({ kind: "expose", ports: ["80", "443"] });
    expect(e[4]).toMatchObject({ kind: "volume", paths: ["/v/app"] });
    expect(e[5]).toMatchObject({ kind: "user", value: "app" });
    expect(e[6]).toMatchObject({ kind: "stopsignal", value: "SIGTERM" });
    expect(e[7]).toMatchObject({ kind: "run", command: { form: "shell", command: "echo $U" } });
    expect(e[8]).toMatchObject({ kind: "cmd", command: { form: "shell", command: "echo $U" } });
    expect(p.stages[0]!.images).toEqual(["img:app"]);
  });

  it("expands COPY heredoc bodies unless the delimiter is quoted, keeping quotes and escapes; RUN bodies stay as written", () => {
    const p = plan("FROM a\nARG N=world\nCOPY <<A <<'B' /x/\nhello \"$N\" \\n ${N}\nA\nraw $N\nB\nRUN <<C\necho $N\nC\n");
    expect(p.stages[0]!.steps[1]!.expanded).toMatchObject({ kind: "copy", heredocs: [{ content: 'hello "world" \\n world\n' }, { content: "raw $N\n" }] });
    expect(p.stages[0]!.steps[2]!.expanded).toMatchObject({ kind: "run", heredocs: [{ content: "echo $N\n" }] });
  });

  it("honours the backtick escape token", () => {
    const p = plan("# escape=`\nFROM a\nWORKDIR c:\\`$x\n");
    expect(p.stages[0]!.steps[0]!.expanded).toMatchObject({ value: "c:\\$x" });
  });

  it("reports substitution errors with the line", () => {
    expect(() => plan("FROM a\n\nWORKDIR ${DIR:?set DIR}\n")).toThrow(InvalidInputError);
    expect(() => plan("FROM a\n\nWORKDIR ${DIR:?set DIR}\n")).toThrow(/^Dockerfile:3: DIR: set DIR$/);
  });

  it("rejects a FROM that expands to nothing", () => {
    expect(() => plan("ARG IMG\nFROM $IMG\n")).toThrow(/^Dockerfile:2: FROM "\$IMG" expands to an empty image name$/);
  });
});

describe("parseInstructions", () => {
  it("types instructions and chomps <<- heredocs", () => {
    const d = parseInstructions(parseDockerfile('FROM a AS B\nRUN <<-EOF\n\techo\n\tEOF\nHEALTHCHECK --interval=1m30s --retries=2 CMD ["true"]\nONBUILD RUN make\nCOPY --link=false --exclude=a --exclude=b x y\n'));
    expect(d.stages[0]!.from).toMatchObject({ image: "a", stageName: "b" });
    const [run, hc, onbuild, copy] = d.stages[0]!.instructions;
    expect(run).toMatchObject({ kind: "run", heredocs: [{ name: "EOF", content: "echo\n", chomp: true }] });
    expect(hc).toMatchObject({ kind: "healthcheck", test: { form: "exec", argv: ["true"] }, interval: "1m30s", retries: 2 });
    expect(onbuild).toMatchObject({ kind: "onbuild", trigger: "RUN make" });
    expect(copy).toMatchObject({ kind: "copy", link: false, exclude: ["a", "b"] });
  });

  it("loadDockerfile parses and checks in one step, naming the file", () => {
    expect(loadDockerfile("FROM a\nRUN x\n").instructions.stages[0]!.instructions).toHaveLength(1);
    expect(() => loadDockerfile("FROM a\nCOPY x\n", "web/Dockerfile")).toThrow(/^web\/Dockerfile:2: COPY requires at least two arguments/);
  });

  it("records ONBUILD triggers as written without checking them", () => {
    const d = parseInstructions(parseDockerfile("FROM a\nonbuild   COPY onlyone\n"));
    expect(d.stages[0]!.instructions[0]).toMatchObject({ kind: "onbuild", trigger: "COPY onlyone" });
  });
});

describe("planBuild: the base image's environment", () => {
  const text = `FROM debian:12 AS base
ENV PATH=/opt/tool/bin:$PATH
RUN echo $PATH $HOME
FROM base
ENV LIB=$PATH
FROM scratch
ENV X=\${PATH:-none}
`;
  it("substitutes with the image's ENV, and a stage built on another starts with what that one ended with", () => {
    const p = plan(text, { target: undefined, imageEnv: (ref) => (ref === "debian:12" ? { PATH: "/usr/bin:/bin", HOME: "/root" } : undefined) });
    const envOf = (stage: number, step: number) => p.stages[stage]!.steps[step]!.env;
    expect(envOf(0, 0)).toMatchObject({ PATH: "/opt/tool/bin:/usr/bin:/bin" });
    expect(p.stages[0]!.steps[1]!.expanded).toMatchObject({ kind: "run" });
    expect(envOf(1, 0)).toMatchObject({ LIB: "/opt/tool/bin:/usr/bin:/bin" });
    expect(envOf(2, 0)).toEqual({ X: "none" }); // scratch has no environment
  });
  it("without the image's ENV (not in the store), $PATH is empty, as before", () => {
    expect(plan(text).stages[0]!.steps[0]!.env).toEqual({ PATH: "/opt/tool/bin:" });
  });
});
