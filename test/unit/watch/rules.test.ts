import { describe, expect, it } from "vitest";
import { InvalidInputError, NotFoundError } from "../../../src/errors.js";
import type { ServiceModel, WatchRuleModel } from "../../../src/schema/model.js";
import { compileWatchRules } from "../../../src/watch/rules.js";
import { makeService, makeStack } from "../../helpers/model.js";

const rule = (over: Partial<WatchRuleModel>): WatchRuleModel => ({ action: "sync", path: "/srv/demo/src", target: "/app", ignore: [], include: [], initial_sync: false, ...over });
const build = (context = "/srv/demo", over: Partial<NonNullable<ServiceModel["build"]>> = {}): ServiceModel["build"] => ({
  context,
  args: {},
  labels: {},
  extra_hosts: [],
  no_cache: false,
  pull: false,
  tags: [],
  additional_contexts: {},
  secrets: [],
  cache_from: [],
  cache_to: [],
  platforms: [],
  ssh: [],
  ...over,
});

describe("compileWatchRules", () => {
  it("compiles each develop.watch entry with its origin, action, path and target", () => {
    const app = makeService("app", { build: build(), develop: { watch: [rule({}), rule({ action: "rebuild", path: "/srv/demo/package.json", target: undefined })] } });
    const { rules, notices } = compileWatchRules(makeStack([app, makeService("db")]));
    expect(rules.map((r) => [r.origin, r.action, r.path, r.target])).toEqual([
      ["services.app.develop.watch[0]", "sync", "/srv/demo/src", "/app"],
      ["services.app.develop.watch[1]", "rebuild", "/srv/demo/package.json", undefined],
    ]);
    expect(notices).toEqual([]);
  });

  it("normalizes the target and keeps exec and initial_sync", () => {
    const exec = { command: ["/bin/sh", "-c", "kill -HUP 1"], environment: {} };
    const app = makeService("app", { develop: { watch: [rule({ action: "sync+exec", target: "/app/./conf/", exec, initial_sync: true })] } });
    const [r] = compileWatchRules(makeStack([app])).rules;
    expect(r).toMatchObject({ target: "/app/conf/", exec, initialSync: true });
  });

  const bad: { name: string; rules: WatchRuleModel[]; service?: Partial<ServiceModel>; message: RegExp }[] = [
    { name: "sync without target", rules: [rule({ target: undefined })], message: /services\.app\.develop\.watch\[0\]\.target: missing; action "sync"/ },
    { name: "relative target", rules: [rule({ target: "app" })], message: /watch\[0\]\.target: "app" is not an absolute container path.*\/app\/app/ },
    { name: "sync+exec without command", rules: [rule({ action: "sync+exec" })], message: /watch\[0\]\.exec\.command: missing/ },
    { name: "sync+exec with an empty command", rules: [rule({ action: "sync+exec", exec: { command: [], environment: {} } })], message: /watch\[0\]\.exec\.command: missing/ },
    { name: "rebuild without build", rules: [rule({ action: "rebuild", target: undefined })], message: /watch\[0\]: action "rebuild" needs services\.app\.build.*"busybox:stable"/ },
    { name: "bad ignore pattern", rules: [rule({ ignore: ["ok", "[bad"] })], message: /watch\[0\]\.ignore\[1\]: bad pattern "\[bad"/ },
    { name: "bare ! in include", rules: [rule({ include: ["!"] })], message: /watch\[0\]\.include\[0\]: illegal exclusion pattern/ },
    { name: "relative path (a loader bug)", rules: [rule({ path: "src" })], message: /watch\[0\]\.path: "src" is not an absolute path/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, () => {
      const app = makeService("app", { develop: { watch: c.rules }, ...c.service });
      const err = (() => {
        try {
          compileWatchRules(makeStack([app]));
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as Error).message).toMatch(c.message);
    });
  }

  it("reports every problem at once", () => {
    const app = makeService("app", { develop: { watch: [rule({ target: undefined }), rule({ action: "sync+exec" })] } });
    expect(() => compileWatchRules(makeStack([app]))).toThrow(expect.objectContaining({ message: expect.stringMatching(/^2 problems/), problems: [expect.stringMatching(/watch\[0\]/), expect.stringMatching(/watch\[1\]/)] }));
  });

  it("names an unknown service with a suggestion", () => {
    const app = makeService("app", { develop: { watch: [rule({})] } });
    expect(() => compileWatchRules(makeStack([app]), { services: ["apq"] })).toThrow(NotFoundError);
    expect(() => compileWatchRules(makeStack([app]), { services: ["apq"] })).toThrow(expect.objectContaining({ message: 'no such service: "apq"', hint: expect.stringContaining("app") }));
  });

  it("says when there is nothing to watch", () => {
    expect(() => compileWatchRules(makeStack([makeService("db")]))).toThrow(/nothing to watch: none of the services db has develop.watch rules/);
  });

  it("notes a named service without rules", () => {
    const app = makeService("app", { develop: { watch: [rule({})] } });
    const { notices } = compileWatchRules(makeStack([app, makeService("db")]), { services: ["app", "db"] });
    expect(notices).toEqual([{ service: "db", message: "not watched: it has no develop.watch rules" }]);
  });

  describe("--rebuild-on-change", () => {
    it("adds a rebuild rule over the context of a service with build and no develop section", () => {
      const web = makeService("web", { build: build("/srv/demo/web") });
      const withDevelop = makeService("app", { build: build(), develop: { watch: [rule({})] } });
      const { rules } = compileWatchRules(makeStack([web, withDevelop, makeService("db")]), { rebuildOnChange: true });
      expect(rules.map((r) => [r.service, r.action, r.path])).toEqual([
        ["app", "sync", "/srv/demo/src"],
        ["web", "rebuild", "/srv/demo/web"],
      ]);
      expect(rules[1]!.origin).toBe("services.web.build (--rebuild-on-change)");
    });

    it("is off by default", () => {
      expect(() => compileWatchRules(makeStack([makeService("web", { build: build() })]))).toThrow(/nothing to watch/);
    });

    it("honours the context's .dockerignore but never hides the Dockerfile", () => {
      const web = makeService("web", { build: build("/srv/web", { dockerfile: "docker/Dockerfile" }) });
      const { rules } = compileWatchRules(makeStack([web]), { rebuildOnChange: true, ignoreFiles: { web: { path: "/srv/web/.dockerignore", text: "node_modules\n*.log\ndocker\n.dockerignore\n" } } });
      const f = rules[0]!.filter;
      expect(f.accepts("/srv/web/src/a.js")).toBe(true);
      expect(f.accepts("/srv/web/node_modules/x/index.js")).toBe(false);
      expect(f.accepts("/srv/web/debug.log")).toBe(false);
      expect(f.accepts("/srv/web/docker/other")).toBe(false);
      expect(f.accepts("/srv/web/docker/Dockerfile")).toBe(true);
      expect(f.accepts("/srv/web/.dockerignore")).toBe(true);
      expect(f.prunes("/srv/web/node_modules")).toBe(true);
      expect(f.prunes("/srv/web/docker")).toBe(false); // the Dockerfile lives there
    });

    it("leaves out a git context with a note when the service is named", () => {
      const web = makeService("web", { build: build("https://github.com/x/y.git") });
      const app = makeService("app", { develop: { watch: [rule({})] } });
      const { rules, notices } = compileWatchRules(makeStack([web, app]), { rebuildOnChange: true, services: ["web", "app"] });
      expect(rules.map((r) => r.service)).toEqual(["app"]);
      expect(notices).toEqual([{ service: "web", message: "not watched: its build context is not a local directory" }]);
    });

    it("reports a bad .dockerignore with its file and line", () => {
      const web = makeService("web", { build: build("/srv/web") });
      expect(() => compileWatchRules(makeStack([web]), { rebuildOnChange: true, ignoreFiles: { web: { path: "/srv/web/.dockerignore", text: "ok\n[x\n" } } })).toThrow(/\/srv\/web\/\.dockerignore:2: bad pattern "\[x"/);
    });
  });

  describe("mount overlap", () => {
    const bind = (source: string, target: string) => ({ type: "bind" as const, source, target, read_only: false, bind: { create_host_path: true } });
    const compile = (volumes: ServiceModel["volumes"], r: WatchRuleModel = rule({})) => compileWatchRules(makeStack([makeService("app", { volumes, develop: { watch: [r] } })]));

    it("skips sync for a watch path inside a bind source, once, and keeps the rule", () => {
      const { rules, notices } = compile([bind("/srv/demo", "/app")], rule({ action: "sync+restart" }));
      expect(rules[0]!.syncBlocked).toMatch(/already bind-mounted \(\/srv\/demo → \/app\)/);
      expect(rules[0]!.action).toBe("sync+restart");
      expect(notices).toEqual([{ service: "app", message: expect.stringMatching(/^services\.app\.develop\.watch\[0\]: watch path \/srv\/demo\/src is already bind-mounted/) }]);
    });

    it("skips sync for a target inside a bind target", () => {
      const { rules } = compile([bind("/elsewhere", "/")]);
      expect(rules[0]!.syncBlocked).toMatch(/lies inside the bind mount \/elsewhere → \//);
    });

    it("skips sync for a target inside a named volume", () => {
      const { rules } = compile([{ type: "volume", source: "data", target: "/app", read_only: false, volume: { nocopy: false } }]);
      expect(rules[0]!.syncBlocked).toMatch(/inside the volume data mounted at \/app.*not supported/);
    });

    it("keeps sync with per-path exclusions for partial overlaps", () => {
      const { rules, notices } = compile([bind("/srv/demo/src/public", "/srv/public"), { type: "tmpfs", target: "/app/cache", read_only: false, tmpfs: {} }]);
      expect(rules[0]!.syncBlocked).toBeUndefined();
      expect(rules[0]!.sharedHostDirs).toEqual(["/srv/demo/src/public"]);
      expect(rules[0]!.hiddenTargets).toEqual(["/app/cache"]);
      expect(notices).toHaveLength(2);
    });

    it("does not apply to rebuild rules", () => {
      const app = makeService("app", { build: build(), volumes: [bind("/srv/demo", "/app")], develop: { watch: [rule({ action: "rebuild", target: undefined })] } });
      const { rules, notices } = compileWatchRules(makeStack([app]));
      expect(rules[0]!.syncBlocked).toBeUndefined();
      expect(notices).toEqual([]);
    });
  });
});
