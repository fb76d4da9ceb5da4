import { describe, expect, it } from "vitest";
import { relocateDocument, relocateService } from "../../../src/schema/relocate.js";

describe("relocateService", () => {
  const cases: Array<{ name: string; service: Record<string, unknown>; expected: Record<string, unknown> }> = [
    { name: "build string", service: { build: "./app" }, expected: { build: "/other/app" } },
    { name: "build mapping without context", service: { build: { target: "dev" } }, expected: { build: { target: "dev", context: "/other" } } },
    { name: "build from a git URL stays", service: { build: "https://github.com/x/y.git#main" }, expected: { build: "https://github.com/x/y.git#main" } },
    { name: "absolute build stays", service: { build: { context: "/abs" } }, expected: { build: { context: "/abs" } } },
    {
      name: "volumes: relative bind short form, named, absolute, ~, long form bind and volume",
      service: { volumes: ["./d:/d:ro", "named:/n", "/abs:/a", "~/h:/h", "/anon", { type: "bind", source: "conf", target: "/c" }, { type: "volume", source: "v", target: "/v" }] },
      expected: { volumes: ["/other/d:/d:ro", "named:/n", "/abs:/a", "~/h:/h", "/anon", { type: "bind", source: "/other/conf", target: "/c" }, { type: "volume", source: "v", target: "/v" }] },
    },
    { name: "env_file list with a mapping", service: { env_file: ["a.env", { path: "b.env", required: false }] }, expected: { env_file: ["/other/a.env", { path: "/other/b.env", required: false }] } },
    { name: "label_file string", service: { label_file: "l.txt" }, expected: { label_file: "/other/l.txt" } },
    { name: "develop.watch paths", service: { develop: { watch: [{ action: "sync", path: "src", target: "/app" }] } }, expected: { develop: { watch: [{ action: "sync", path: "/other/src", target: "/app" }] } } },
    { name: "image only: unchanged", service: { image: "x" }, expected: { image: "x" } },
  ];
  it.each(cases)("$name", ({ service, expected }) => {
    expect(relocateService(service, "/other")).toEqual(expected);
  });
  it("a service that is not a mapping is returned as is", () => expect(relocateService(null, "/x")).toBeNull());
});

describe("relocateDocument", () => {
  it("relocates services and file-based secrets and configs", () => {
    const doc = { services: { s: { build: "." } }, secrets: { a: { file: "./a.txt" }, b: { environment: "B" } }, configs: { c: { file: "c.conf" } }, networks: { n: {} } };
    expect(relocateDocument(doc, "/inc")).toEqual({
      services: { s: { build: "/inc" } },
      secrets: { a: { file: "/inc/a.txt" }, b: { environment: "B" } },
      configs: { c: { file: "/inc/c.conf" } },
      networks: { n: {} },
    });
  });
});
