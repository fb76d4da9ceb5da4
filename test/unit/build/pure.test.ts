// Pure parts of the builder: requests from the model, RUN --mount values,
// config changes, cache keys, build args.
import { describe, expect, it } from "vitest";
import { parseBuildArgs, formatProgress } from "../../../src/image/build/build-command.js";
import { applyInstruction, argvOf, durationNs, exposedPorts } from "../../../src/image/build/image-config.js";
import { buildRequestOf, imageNameFor } from "../../../src/image/build/request.js";
import { parseRunMount } from "../../../src/image/build/run-mounts.js";
import { stableJson, stepKey } from "../../../src/image/build/step-cache.js";
import type { BuildModel } from "../../../src/schema/model.js";
import { makeService, makeStack } from "../../helpers/model.js";

const build = (over: Partial<BuildModel> = {}): BuildModel => ({
  context: "/srv/demo/app", args: {}, labels: {}, extra_hosts: [], no_cache: false, pull: false, tags: [], additional_contexts: {}, secrets: [], cache_from: [], cache_to: [], platforms: [], ssh: [], ...over,
});

describe("imageNameFor / buildRequestOf", () => {
  it.each([
    { name: "image: wins", service: { name: "web", image: "me/web:1" }, expected: "me/web:1" },
    { name: "no image: <project>-<service>", service: { name: "web" }, expected: "demo-web" },
  ])("$name", ({ service, expected }) => {
    expect(imageNameFor({ name: "demo" }, service)).toBe(expected);
  });

  it("turns the build section into a request", () => {
    const svc = makeService("web", { image: undefined, build: build({ dockerfile: "docker/Dockerfile.dev", args: { A: "1", FROM_ENV: null, MISSING: null }, target: "dev", tags: ["me/web:extra"], network: "host", shm_size: 1024, labels: { l: "v" } }) });
    const req = buildRequestOf(makeStack([svc]), svc, { args: { B: "2" } }, { FROM_ENV: "env" });
    expect(req).toMatchObject({ context: "/srv/demo/app", dockerfile: "/srv/demo/app/docker/Dockerfile.dev", args: { A: "1", B: "2", FROM_ENV: "env" }, target: "dev", tags: ["demo-web", "me/web:extra"], network: "host", shmSize: 1024, labels: { l: "v" }, noCache: false });
    expect(req.args).not.toHaveProperty("MISSING");
  });

  it.each([
    { name: "remote context", b: build({ context: "https://github.com/x/y.git" }), error: /remote context/ },
    { name: "unknown network", b: build({ network: "mynet" }), error: /build network "mynet" is not supported/ },
    { name: "undefined secret", b: build({ secrets: [{ source: "nope", target: "/run/secrets/nope" }] }), error: /secret "nope" is not defined/ },
  ])("refuses $name", ({ b, error }) => {
    const svc = makeService("web", { build: b });
    expect(() => buildRequestOf(makeStack([svc]), svc)).toThrow(error);
  });

  it("refuses a service without build", () => {
    const svc = makeService("web");
    expect(() => buildRequestOf(makeStack([svc]), svc)).toThrow(/has no build section/);
  });
});

describe("parseRunMount", () => {
  it.each([
    { value: "type=cache,target=/root/.cache", expected: { type: "cache", target: "/root/.cache", id: "/root/.cache", mode: 0o755, uid: 0, gid: 0, readOnly: false } },
    { value: "type=cache,id=npm,target=/n,mode=0700,uid=1000", expected: { type: "cache", id: "npm", mode: 0o700, uid: 1000 } },
    { value: "target=/src", expected: { type: "bind", target: "/src", source: "/", readWrite: false } },
    { value: "type=bind,source=app,target=/src,rw", expected: { type: "bind", source: "app", readWrite: true } },
    { value: "type=secret,id=token", expected: { type: "secret", id: "token", target: "/run/secrets/token", required: false, mode: 0o400 } },
    { value: "type=tmpfs,target=/t,size=1024", expected: { type: "tmpfs", target: "/t", size: 1024 } },
  ])("$value", ({ value, expected }) => {
    expect(parseRunMount(value, "Dockerfile:3")).toMatchObject(expected);
  });

  it.each([
    { value: "type=cache", error: /Dockerfile:3: --mount=type=cache: a cache mount needs target=/ },
    { value: "type=weird,target=/x", error: /unknown mount type "weird"/ },
    { value: "type=ssh", error: /not supported/ },
    { value: "type=cache,target=/x,uid=abc", error: /uid=abc is not a valid number/ },
  ])("refuses $value", ({ value, error }) => {
    expect(() => parseRunMount(value, "Dockerfile:3")).toThrow(error);
  });
});

describe("image config", () => {
  const at = { line: 1, endLine: 1 };
  it("applies metadata instructions", () => {
    let c = applyInstruction({ Env: ["PATH=/bin"] }, { ...at, kind: "env", pairs: [{ key: "PATH", value: "/usr/bin" }, { key: "A", value: "b" }] }, "D:1").config;
    expect(c.Env).toEqual(["PATH=/usr/bin", "A=b"]);
    c = applyInstruction(c, { ...at, kind: "workdir", value: "/app" }, "D:1").config;
    c = applyInstruction(c, { ...at, kind: "workdir", value: "sub/" }, "D:1").config;
    expect(c.WorkingDir).toBe("/app/sub");
    c = applyInstruction(c, { ...at, kind: "shell", argv: ["/bin/bash", "-ec"] }, "D:1").config;
    c = applyInstruction(c, { ...at, kind: "cmd", command: { form: "shell", command: "run it" } }, "D:1").config;
    expect(c.Cmd).toEqual(["/bin/bash", "-ec", "run it"]);
    c = applyInstruction(c, { ...at, kind: "healthcheck", test: { form: "exec", argv: ["true"] }, interval: "1m30s", retries: 2 }, "D:1").config;
    expect(c.Healthcheck).toEqual({ Test: ["CMD", "true"], Interval: 90e9, Retries: 2 });
    c = applyInstruction(c, { ...at, kind: "expose", ports: ["80", "53/udp", "8000-8001"] }, "D:1").config;
    expect(Object.keys(c.ExposedPorts!)).toEqual(["80/tcp", "53/udp", "8000/tcp", "8001/tcp"]);
    c = applyInstruction(c, { ...at, kind: "onbuild", trigger: "RUN make" }, "D:1").config;
    expect(c.OnBuild).toEqual(["RUN make"]);
  });

  it.each([
    { value: "500ms", ns: 5e8 },
    { value: "1h2m", ns: 3720e9 },
    { value: "0", ns: 0 },
  ])("duration $value", ({ value, ns }) => expect(durationNs(value)).toBe(ns));

  it("refuses a bad port", () => expect(() => exposedPorts(["http"], "Dockerfile:4")).toThrow(/Dockerfile:4: invalid port "http"/));
  it("shell form uses the default shell", () => expect(argvOf({ form: "shell", command: "ls" }, undefined)).toEqual(["/bin/sh", "-c", "ls"]));
});

describe("cache keys", () => {
  it("do not depend on key order, and depend on every value", () => {
    expect(stableJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    expect(stepKey("p", { a: 1, b: 2 })).toBe(stepKey("p", { b: 2, a: 1 }));
    expect(stepKey("p", { a: 1 })).not.toBe(stepKey("q", { a: 1 }));
    expect(stepKey("p", { a: 1 }, "x")).not.toBe(stepKey("p", { a: 1 }, "y"));
  });
});

describe("stack build flags", () => {
  it("parses --build-arg", () => {
    expect(parseBuildArgs(["A=1", "B=x=y", "HOME_VAR"], { HOME_VAR: "h" })).toEqual({ A: "1", B: "x=y", HOME_VAR: "h" });
    expect(() => parseBuildArgs(["1A=x"], {})).toThrow(/"1A" is not a valid name/);
  });
  it("formats progress lines", () => {
    expect(formatProgress("web", { type: "step", stage: "build", n: 2, total: 5, text: "RUN make", status: "done", ms: 1234 })).toBe("[web] [build 2/5] RUN make 1.23s");
    expect(formatProgress("web", { type: "step", stage: "build", n: 3, total: 5, text: "COPY . .", status: "cached", ms: 1 })).toBe("[web] [build 3/5] COPY . . CACHED");
  });
});
