// `stack build` as a user runs it: a compose project with build sections,
// the default build network (an isolated namespace through the network
// layer), progress lines, CACHED on the second run, and a failing RUN.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageStore } from "../../../src/image/store/index.js";
import { importBusyboxImage } from "../../helpers/busybox-image.js";
import { runStack } from "../../helpers/cli.js";
import type { HostSnapshot } from "../../helpers/leaks.js";
import { assertNoBuildLeaks, snapshotBuildHost } from "./build-leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";

describe.skipIf(skipUnlessRoot("stack build CLI tests"))("stack build", () => {
  let dir: string;
  let env: Record<string, string>;
  let before: HostSnapshot;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "stack-cli-build-"));
    env = { STACK_STATE_DIR: join(dir, "state"), STACK_RUN_DIR: join(dir, "run"), PATH: process.env.PATH ?? "/usr/bin:/bin" };
    before = snapshotBuildHost(dir, join(dir, "run", "runc"));
    await importBusyboxImage(env.STACK_STATE_DIR!, "stack-test/busybox:latest");
    const app = join(dir, "proj", "app");
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, "Dockerfile"), "FROM stack-test/busybox:latest\nARG MSG=default\nRUN ip -o link show | grep -c eth0 > /links && echo \"$MSG\" > /msg\nCOPY hello.txt /hello.txt\n");
    writeFileSync(join(app, "hello.txt"), "hi\n");
    const bad = join(dir, "proj", "bad");
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, "Dockerfile"), "FROM stack-test/busybox:latest\nRUN echo about-to-fail && exit 7\n");
    writeFileSync(join(dir, "proj", "compose.yaml"), "services:\n  app:\n    build: ./app\n  named:\n    image: demo/named:dev\n    build:\n      context: ./app\n      args: { MSG: from-compose }\n  bad:\n    build: ./bad\n  db:\n    image: stack-test/busybox:latest\n");
  });

  afterAll(() => {
    try {
      assertNoBuildLeaks(before, dir, join(dir, "run", "runc"), env.STACK_STATE_DIR!);
      const left = join(env.STACK_STATE_DIR!, "projects", "_build", "containers");
      expect(existsSync(left) ? readdirSync(left) : []).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("builds the named services with progress lines, then CACHED; names the images like Compose", async () => {
    const cwd = join(dir, "proj");
    const first = await runStack(["--progress", "plain", "build", "app", "named"], { cwd, env, timeout: 120_000 });
    expect(first.stderr).toMatch(/\[app\] \[stage-0 3\/4\] RUN ip -o link show .* \d+\.\d\ds/);
    expect(first.exitCode).toBe(0);
    const store = new ImageStore(env.STACK_STATE_DIR!);
    const app = await store.get("proj-app");
    const named = await store.get("demo/named:dev");
    const { LayeredFs } = await import("../../../src/image/build/layered-fs.js");
    const { readFileSync } = await import("node:fs");
    const fs = new LayeredFs(await store.layerDirs(named));
    expect(readFileSync(fs.lstat("/msg")!.hostPath, "utf8")).toBe("from-compose\n");
    // The default build network: the step had an eth0 in its own namespace.
    expect(readFileSync(fs.lstat("/links")!.hostPath, "utf8").trim()).toBe("1");
    expect(app.id).not.toBe(named.id);
    const second = await runStack(["build", "app", "--build-arg", "MSG=default"], { cwd, env, timeout: 120_000 });
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toContain("COPY hello.txt /hello.txt CACHED");
    expect(second.stderr).toContain("CACHED");
    const quiet = await runStack(["build", "-q", "app"], { cwd, env, timeout: 120_000 });
    expect(quiet.exitCode).toBe(0);
    expect(quiet.stderr + quiet.stdout).toBe("");
  }, 200_000);

  it("a failing RUN exits non-zero naming the step, the exit code and the output", async () => {
    const r = await runStack(["build", "bad"], { cwd: join(dir, "proj"), env, timeout: 120_000 });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("step 2/2 (Dockerfile:2) RUN echo about-to-fail && exit 7 failed with exit code 7");
    expect(r.stderr).toContain("about-to-fail");
  }, 200_000);

  it("an unknown service is an error", async () => {
    const r = await runStack(["build", "nope"], { cwd: join(dir, "proj"), env });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/nope/);
  });
});
