// readBuildIgnoreFiles on real folders: which ignore file a build would use.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SystemError } from "../../../src/errors.js";
import type { ServiceModel } from "../../../src/schema/model.js";
import { readBuildIgnoreFiles } from "../../../src/watch/ignore-files.js";
import { makeService, makeStack } from "../../helpers/model.js";
import { removeDir, tempDir } from "./harness.js";

let ctx: string;
beforeEach(() => (ctx = tempDir("ignore")));
afterEach(() => removeDir(ctx));

const build = (over: Partial<NonNullable<ServiceModel["build"]>> = {}): ServiceModel["build"] => ({
  context: ctx, args: {}, labels: {}, extra_hosts: [], no_cache: false, pull: false, tags: [], additional_contexts: {}, secrets: [], cache_from: [], cache_to: [], platforms: [], ssh: [], ...over,
});

describe("readBuildIgnoreFiles", () => {
  it("prefers <Dockerfile>.dockerignore next to the Dockerfile over the context's .dockerignore", () => {
    mkdirSync(join(ctx, "docker"));
    writeFileSync(join(ctx, ".dockerignore"), "root\n");
    writeFileSync(join(ctx, "docker", "app.Dockerfile.dockerignore"), "specific\n");
    const model = makeStack([makeService("a", { build: build({ dockerfile: "docker/app.Dockerfile" }) }), makeService("b", { build: build() }), makeService("c")]);
    expect(readBuildIgnoreFiles(model, ["a", "b", "c"])).toEqual({
      a: { path: join(ctx, "docker", "app.Dockerfile.dockerignore"), text: "specific\n" },
      b: { path: join(ctx, ".dockerignore"), text: "root\n" },
    });
  });

  it("has nothing for a context without an ignore file", () => {
    expect(readBuildIgnoreFiles(makeStack([makeService("a", { build: build() })]), ["a"])).toEqual({});
  });

  it("reports an ignore file it cannot read", () => {
    mkdirSync(join(ctx, ".dockerignore"));
    const read = () => readBuildIgnoreFiles(makeStack([makeService("a", { build: build() })]), ["a"]);
    expect(read).toThrow(SystemError);
    expect(read).toThrow(`cannot read ${join(ctx, ".dockerignore")}`);
  });
});
