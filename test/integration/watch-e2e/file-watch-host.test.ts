// The supervisor's file-watch host and the engine's watch target on their own
// (no containers: sync rules without initial_sync start watching without
// asking the engine anything): one watch per project, the spec kept 0600 and
// forgotten on --stop, resumed by the next supervisor, and the refusals.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createWatchTarget } from "../../../src/engine/watch-target.js";
import { ConflictError, InvalidInputError, UnsupportedError } from "../../../src/errors.js";
import { loadStack } from "../../../src/schema/load.js";
import { FileWatchHost, fileWatchSpecPath } from "../../../src/supervisor/file-watch.js";
import type { FileWatchSpec } from "../../../src/supervisor/protocol.js";

describe("FileWatchHost", () => {
  let dir: string;
  let host: FileWatchHost;
  let logs: string[];
  let spec: FileWatchSpec;

  beforeEach(() => {
    dir = mkdtempSync("/tmp/stack-file-watch-host-");
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "compose.yaml"), "services:\n  app:\n    image: busybox\n    develop:\n      watch:\n        - { path: ./src, action: sync, target: /app }\n");
    logs = [];
    host = new FileWatchHost({ project: "fwh", stateDir: join(dir, "state"), runDir: join(dir, "run"), log: (m) => logs.push(m) });
    spec = { files: [join(dir, "compose.yaml")], cwd: dir, env: { SECRET: "x" }, projectName: "fwh", projectDirectory: dir, profiles: [], envFiles: [], services: [], rebuildOnChange: false };
  });

  afterEach(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("one watch at a time; the spec is kept 0600 until --stop; a new host resumes it", async () => {
    const r = await host.start(spec);
    expect(r.services).toEqual(["app"]);
    expect(host.active()).toBe(true);
    expect(host.status()).toMatchObject({ detached: { services: ["app"] }, attached: [] });
    expect(logs).toContain("watch app: watching ./src (sync → /app)");
    const path = fileWatchSpecPath(join(dir, "state"), "fwh");
    expect(statSync(path).mode & 0o777).toBe(0o600);

    await expect(host.start(spec)).rejects.toThrow(ConflictError);
    await expect(host.start(spec)).rejects.toThrow(/already watches app/);
    const ops = host.ops();
    await expect(ops.fileWatchAttach!({ op: "fileWatchAttach", services: ["app"], v: 1, seq: 1 } as never, () => {})).rejects.toThrow(/already watches app/);

    // A supervisor that stops (crash, restart) keeps the spec: the next one watches again.
    await host.close();
    expect(host.active()).toBe(false);
    expect(existsSync(path)).toBe(true);
    const next = new FileWatchHost({ project: "fwh", stateDir: join(dir, "state"), runDir: join(dir, "run"), log: (m) => logs.push(m) });
    await next.resume();
    expect(next.status().detached?.services).toEqual(["app"]);
    expect(await next.stop()).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(await next.stop()).toBe(false);
  });

  test("an attached watch blocks a detached one while its connection lasts", async () => {
    let closeConnection = () => {};
    await host.ops().fileWatchAttach!({ op: "fileWatchAttach", services: ["web", "app"], v: 1, seq: 1 } as never, (c) => (closeConnection = c));
    expect(host.status().attached).toEqual(["app", "web"]);
    await expect(host.start(spec)).rejects.toThrow(/already runs in a terminal for app, web/);
    closeConnection();
    expect(host.status().attached).toEqual([]);
    await host.start(spec);
  });

  test("refusals: stdin stack file, another project's stack, bad rules", async () => {
    await expect(host.start({ ...spec, files: ["-"] })).rejects.toThrow(UnsupportedError);
    await expect(host.start({ ...spec, projectName: "other" })).rejects.toThrow(/loads as project "other", not "fwh"/);
    writeFileSync(join(dir, "compose.yaml"), "services:\n  app:\n    image: busybox\n    develop:\n      watch:\n        - { path: ./src, action: sync }\n");
    await expect(host.start(spec)).rejects.toThrow(InvalidInputError);
    expect(host.active()).toBe(false);
    expect(existsSync(fileWatchSpecPath(join(dir, "state"), "fwh"))).toBe(false);
  });

  test("watch target: exec refuses a service that does not run, privileged or not; closed refuses restart", async () => {
    const { model } = await loadStack({ files: [join(dir, "compose.yaml")], cwd: dir, env: {}, profiles: [], envFiles: [], interpolate: true });
    const target = createWatchTarget({ settings: { model, stateDir: join(dir, "state"), runDir: join(dir, "run"), env: {}, warn: () => {} } });
    try {
      await expect(target.exec("app", ["true"], { privileged: true })).rejects.toThrow(/service "app" is not running/);
      await expect(target.exec("app", ["true"])).rejects.toThrow(/service "app" is not running/);
      expect(await target.containerRoot("app")).toEqual([]);
      target.close();
      await expect(target.restart("app")).rejects.toThrow(/watch stopped: restart app not done/);
      await expect(target.rebuild("app")).rejects.toThrow(ConflictError);
      expect(target.busy()).toBe(false);
    } finally {
      target.close();
    }
  });
});
