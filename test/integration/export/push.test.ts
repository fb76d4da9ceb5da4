// `stack export kubernetes --push`: built images go to the registry (a real
// docker-registry on 127.0.0.1) and the manifests pin them by digest; skopeo,
// another client, reads what was pushed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, test } from "vitest";
import { importBusyboxImage } from "../../helpers/busybox-image.js";
import { runStack } from "../../helpers/cli.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { startRegistry, type RunningRegistry } from "../registry/registry-server.js";

describe.skipIf(skipUnlessRoot("export --push test"))("stack export kubernetes --push", { timeout: 120_000 }, () => {
  let dir: string | undefined;
  let registry: RunningRegistry | undefined;
  afterEach(async () => {
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("pushes the built images and references them by digest; --push without --image-registry is refused", async () => {
    dir = mkdtempSync("/tmp/stack-export-push-");
    registry = await startRegistry(join(dir, "registry"));
    const env = { STACK_STATE_DIR: join(dir, "state"), STACK_RUN_DIR: join(dir, "run") };
    writeFileSync(join(dir, "compose.yaml"), "name: shop\nservices:\n  web:\n    build: .\n    ports: ['8080:80']\n  cache:\n    image: redis:7\n");
    // What `stack build` would have made for the web service.
    await importBusyboxImage(env.STACK_STATE_DIR, "shop-web");

    const refused = await runStack(["export", "kubernetes", "--push"], { cwd: dir, env });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain("error: --push needs --image-registry");

    const r = await runStack(["export", "kubernetes", "--push", "--image-registry", `${registry.host}/team`], { cwd: dir, env });
    expect(r.exitCode).toBe(0);
    const pinned = new RegExp(`image: ${registry.host.replace(/\./g, "\\.")}/team/shop-web@(sha256:[0-9a-f]{64})`);
    const digest = pinned.exec(r.stdout)?.[1];
    expect(digest).toBeDefined();
    expect(r.stdout).toContain("image: redis:7"); // not built: left as written
    const inspect = await execa("skopeo", ["inspect", "--tls-verify=false", `docker://${registry.host}/team/shop-web:latest`]);
    expect((JSON.parse(inspect.stdout) as { Digest: string }).Digest).toBe(digest);
  });
});
