// `stack up` gets its images as a user expects: pulled from a registry (a real
// docker-registry on 127.0.0.1) when missing, built from a Dockerfile when the
// service has `build:`, and rebuilt with --build, recreating only that service.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { importBusyboxImage } from "../../helpers/busybox-image.js";
import { runStack } from "../../helpers/cli.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { startRegistry, type RunningRegistry } from "../registry/registry-server.js";
import { makeProject, type Project } from "./harness.js";

describe.skipIf(skipUnlessRoot("image end-to-end tests"))("up pulls and builds images", { timeout: 180_000 }, () => {
  let p: Project | undefined;
  let registry: RunningRegistry | undefined;
  let scratch: string | undefined;

  afterEach(async () => {
    try {
      await p?.dispose();
    } finally {
      p = undefined;
      await registry?.stop();
      registry = undefined;
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("a missing image is pulled from a loopback registry; a build: service is built FROM it; --build rebuilds and recreates only that service", async () => {
    scratch = mkdtempSync("/tmp/stack-e2e-images-");
    registry = await startRegistry(join(scratch, "registry"));
    const remote = `${registry.host}/test/busybox:1`;
    // Publish the busybox image from another state dir, as another machine would.
    const publisherState = join(scratch, "publisher");
    await importBusyboxImage(publisherState, remote);
    const push = await runStack(["image", "push", remote], { env: { STACK_STATE_DIR: publisherState, STACK_RUN_DIR: join(scratch, "run") } });
    expect(push.stderr).toBe("");
    expect(push.exitCode).toBe(0);

    p = await makeProject("images");
    mkdirSync(join(p.dir, "app"));
    writeFileSync(join(p.dir, "app", "Dockerfile"), `FROM ${remote}\nRUN echo built > /built\nCOPY hello.txt /hello.txt\nCMD ["sh", "-c", "cat /built /hello.txt; exec sleep 600"]\n`);
    writeFileSync(join(p.dir, "app", "hello.txt"), "version-1\n");
    p.write(`
services:
  db:
    image: ${remote}
    init: true
    command: sh -c 'echo db-from-registry; exec sleep 600'
  app:
    build: ./app
    init: true
    depends_on: [db]
`);
    const up = await p.stack(["--progress", "plain", "up", "-d"]);
    expect(up.exitCode).toBe(0);
    expect(up.stderr).toMatch(/^[0-9a-f]{12}: (Already exists|Pull complete)$/m); // the FROM image came from the registry
    expect(up.stderr).toMatch(/\[app\] \[stage-0 2\/4\] RUN echo built > \/built/);
    const images = (await p.stack(["images", "--format", "json"])).stdout;
    expect(images).toContain(`${p.name}-app`);
    expect(images).toContain("test/busybox");

    const logs = async () => (await p!.stack(["logs", "--no-log-prefix", "--no-color"])).stdout;
    for (let i = 0; i < 50 && !(await logs()).includes("version-1"); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await logs()).toMatch(/db-from-registry[\s\S]*|built\nversion-1\n/);
    const ids = async () => Object.fromEntries((await p!.stack(["ps", "--format", "json"])).stdout.trim().split("\n").map((l) => JSON.parse(l) as { Service: string; ID: string }).map((r) => [r.Service, r.ID]));
    const before = await ids();

    // Unchanged: nothing rebuilt or recreated.
    const again = await p.stack(["--progress", "plain", "up", "-d"]);
    expect(again.stderr).not.toMatch(/Building|Pulling|Recreat/);
    expect(await ids()).toEqual(before);

    writeFileSync(join(p.dir, "app", "hello.txt"), "version-2\n");
    const rebuilt = await p.stack(["--progress", "plain", "up", "-d", "--build"]);
    expect(rebuilt.exitCode).toBe(0);
    expect(rebuilt.stderr).toMatch(/RUN echo built > \/built CACHED/);
    expect(rebuilt.stderr).toMatch(/Recreating\s+changed: image/);
    const after = await ids();
    expect(after.db).toBe(before.db);
    expect(after.app).not.toBe(before.app);
    for (let i = 0; i < 50 && !(await logs()).includes("version-2"); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await logs()).toContain("version-2");
  });

  test("a missing image that cannot be pulled fails up before anything starts, with a hint", async () => {
    p = await makeProject("noimage");
    p.write(`
services:
  web:
    image: nowhere.invalid/none:1
    pull_policy: never
`);
    const up = await p.stack(["up", "-d"]);
    expect(up.exitCode).not.toBe(0);
    expect(up.stderr).toContain('error: services.web: image "nowhere.invalid/none:1" is not in the local store');
    expect(up.stderr).toContain("hint: pull_policy is never");
    expect((await p.stack(["ps", "-a", "-q"])).stdout).toBe("");
  });
});
