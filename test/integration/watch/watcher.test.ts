// The Watcher for real: chokidar on temp folders, syncs into temp "rootfs"
// folders through a fake port (ownership checked as root).
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ServiceModel, WatchRuleModel } from "../../../src/schema/model.js";
import { formatWatchEvent } from "../../../src/watch/events.js";
import { Watcher, type WatcherOptions } from "../../../src/watch/watcher.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
import { makeService, makeStack } from "../../helpers/model.js";
import { isRoot, skipUnlessRoot } from "../../helpers/root.js";
import { EventLog, TempDirPort, inotifyWatchCount, makeRootfs, owner, removeDir, sleep, tempDir } from "./harness.js";

const UID = isRoot ? 1234 : process.getuid!();
const GID = isRoot ? 2345 : process.getgid!();

let base: string;
let host: string;
let rootfs: string;
let watcher: Watcher | undefined;
let inotifyBefore: number;
let snapshot: HostSnapshot;

beforeEach(() => {
  base = tempDir("w");
  host = join(base, "project");
  mkdirSync(join(host, "src"), { recursive: true });
  writeFileSync(join(host, "src", "index.js"), "v1\n");
  rootfs = makeRootfs(base);
  inotifyBefore = inotifyWatchCount();
  snapshot = snapshotHost([base]);
});

afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
  expect(inotifyWatchCount()).toBe(inotifyBefore);
  // Other engineers' tests run at the same time: only what names this test's folder counts.
  const left = diffSnapshots(snapshot, snapshotHost([base])).filter((l) => l.includes(base));
  expect(left).toEqual([]);
  removeDir(base);
});

const rule = (over: Partial<WatchRuleModel> = {}): WatchRuleModel => ({ action: "sync", path: join(host, "src"), target: "/app", ignore: [], include: [], initial_sync: false, ...over });

function build(): ServiceModel["build"] {
  return { context: host, args: {}, labels: {}, extra_hosts: [], no_cache: false, pull: false, tags: [], additional_contexts: {}, secrets: [], cache_from: [], cache_to: [], platforms: [], ssh: [] };
}

async function startWatcher(services: ServiceModel[], over: Partial<WatcherOptions> = {}) {
  const port = new TempDirPort({ app: [{ rootfs, uid: UID, gid: GID, container: "demo-app-1" }] });
  const events = new EventLog();
  watcher = new Watcher({ model: makeStack(services, { project_dir: host }), port, log: events.log, ...over });
  await watcher.start();
  return { port, events, watcher };
}

const read = (p: string) => readFileSync(join(rootfs, p), "utf8");

describe("Watcher: sync", () => {
  it("syncs a changed file in well under a second, with the container's uid/gid and the host's mode", async () => {
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule()] } })]);
    expect(formatWatchEvent(events.of("watching")[0]!)).toBe("app: watching ./src (sync → /app)");
    const t = Date.now();
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    chmodSync(join(host, "src", "index.js"), 0o640);
    const e = await events.waitFor((e) => e.action === "sync");
    const latency = Date.now() - t;
    expect(latency).toBeLessThan(1000);
    expect(read("app/index.js")).toBe("v2\n");
    expect(owner(join(rootfs, "app/index.js"))).toEqual([UID, GID, 0o640]);
    expect(e).toMatchObject({ service: "app", files: [join(host, "src", "index.js")], written: 1, removed: 0 });
    expect(formatWatchEvent(e)).toMatch(/^app: synced 1 file \(\d+ ms\)$/);
    // No temporary file is left next to it.
    expect(readdirSync(join(rootfs, "app"))).toEqual(["index.js"]);
  });

  it("does not lose a second save that follows a sync at once (chokidar throttles changes for 50 ms)", async () => {
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule()] } })]);
    for (let i = 0; i < 5; i++) {
      const from = events.events.length;
      writeFileSync(join(host, "src", "index.js"), `first ${i}\n`);
      await events.waitFor((e) => e.action === "sync", 5000, from);
      writeFileSync(join(host, "src", "index.js"), `second ${i}\n`);
      const end = Date.now() + 3000;
      while (read("app/index.js") !== `second ${i}\n` && Date.now() < end) await sleep(10);
      expect(read("app/index.js")).toBe(`second ${i}\n`);
      await watcher!.idle();
    }
  });

  it("creates directories, and propagates deletions of files and whole directories", async () => {
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule()] } })]);
    mkdirSync(join(host, "src", "lib", "deep"), { recursive: true });
    writeFileSync(join(host, "src", "lib", "deep", "a.js"), "a\n");
    symlinkSync("deep/a.js", join(host, "src", "lib", "link"));
    await events.waitFor(() => existsSync(join(rootfs, "app/lib/deep/a.js")) && existsSync(join(rootfs, "app/lib/link")));
    expect(read("app/lib/deep/a.js")).toBe("a\n");
    expect(owner(join(rootfs, "app/lib/deep"))).toEqual([UID, GID, expect.any(Number)]);
    expect(read("app/lib/link")).toBe("a\n"); // the link resolves inside the container's tree
    await watcher!.idle();

    const from = events.events.length;
    writeFileSync(join(rootfs, "app", "index.js"), "v1\n"); // (present in the container before the delete)
    rmSync(join(host, "src", "index.js"));
    await events.waitFor((e) => e.action === "sync" && (e.removed ?? 0) > 0, 5000, from);
    expect(existsSync(join(rootfs, "app/index.js"))).toBe(false);

    rmSync(join(host, "src", "lib"), { recursive: true });
    await events.waitFor(() => !existsSync(join(rootfs, "app/lib")), 5000);
    expect(readdirSync(join(rootfs, "app"))).toEqual([]);
  });

  it("never writes outside the rootfs through a link in the container", async () => {
    // In the container, /app is a link to /etc/../srv (absolute: resolved inside the container).
    rmSync(join(rootfs, "app"), { recursive: true });
    mkdirSync(join(rootfs, "srv"));
    symlinkSync("/etc/../../../../srv", join(rootfs, "app"));
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule()] } })]);
    writeFileSync(join(host, "src", "escape.txt"), "x");
    await events.waitFor((e) => e.action === "sync");
    expect(readFileSync(join(rootfs, "srv", "escape.txt"), "utf8")).toBe("x");
    expect(existsSync("/srv/escape.txt")).toBe(false);
  });

  it("turns a burst of 1,000 new files from another process into one batch", async () => {
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule()] } })]);
    const t = Date.now();
    // Like a git checkout: another process writes 10 directories of 100 files.
    const script = `const fs=require("fs"),p=require("path");for(let d=0;d<10;d++){fs.mkdirSync(p.join(process.argv[1],"d"+d));for(let i=0;i<100;i++)fs.writeFileSync(p.join(process.argv[1],"d"+d,"f"+i+".js"),d+"/"+i+"\\n")}`;
    await promisify(execFile)(process.execPath, ["-e", script, join(host, "src")]);
    const written = Date.now() - t;
    const e = await events.waitFor((e) => e.action === "sync", 10_000);
    await watcher!.idle();
    const syncs = events.of("sync");
    console.log(`1,000-file burst: written in ${written} ms, ${syncs.length} batch(es), applied ${Date.now() - t} ms after the first write (sync itself ${syncs.map((s) => `${s.elapsedMs} ms for ${s.files.length}`).join(", ")})`);
    expect(syncs).toHaveLength(1);
    expect(e.files).toHaveLength(1010); // 1,000 files and their 10 directories
    expect(e.written).toBe(1000);
    expect(read("app/d9/f99.js")).toBe("9/99\n");
    expect(readdirSync(join(rootfs, "app")).filter((n) => n.startsWith("d"))).toHaveLength(10);
    for (let d = 0; d < 10; d++) expect(readdirSync(join(rootfs, "app", `d${d}`))).toHaveLength(100);
  });

  it("syncs a directory with everything below it, whatever the file events said", async () => {
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule({ ignore: ["**/skip"] })] } })]);
    // Made elsewhere and moved in: one event for the directory, none for its files.
    const outside = join(base, "staging");
    mkdirSync(join(outside, "tree", "a", "b"), { recursive: true });
    mkdirSync(join(outside, "tree", "skip"));
    writeFileSync(join(outside, "tree", "a", "b", "c.js"), "c");
    writeFileSync(join(outside, "tree", "skip", "x.js"), "x");
    renameSync(join(outside, "tree"), join(host, "src", "tree"));
    await events.waitFor(() => existsSync(join(rootfs, "app/tree/a/b/c.js")));
    await watcher!.idle();
    expect(existsSync(join(rootfs, "app/tree/skip"))).toBe(false);
  });

  it("leaves out .git, editor files, ignore patterns and files outside include", async () => {
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule({ ignore: ["*.log", "tmp/"], include: ["*.js", "*.log", "tmp", ".git"] })] } })]);
    mkdirSync(join(host, "src", ".git"));
    writeFileSync(join(host, "src", ".git", "index.js"), "git");
    writeFileSync(join(host, "src", ".index.js.swp"), "swap");
    writeFileSync(join(host, "src", "index.js~"), "backup");
    writeFileSync(join(host, "src", "debug.log"), "log");
    writeFileSync(join(host, "src", "style.css"), "css");
    mkdirSync(join(host, "src", "tmp"));
    writeFileSync(join(host, "src", "tmp", "x.js"), "tmp");
    await sleep(150);
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    const e = await events.waitFor((e) => e.action === "sync");
    expect(e.files).toEqual([join(host, "src", "index.js")]);
    expect(readdirSync(join(rootfs, "app"))).toEqual(["index.js"]);
  });

  it("initial_sync copies what differs in content or mode, and leaves the container's own files", async () => {
    writeFileSync(join(host, "src", "same.js"), "same\n");
    writeFileSync(join(host, "src", "mode.sh"), "#!/bin/sh\n");
    chmodSync(join(host, "src", "mode.sh"), 0o755);
    mkdirSync(join(host, "src", "new"));
    writeFileSync(join(host, "src", "new", "n.js"), "n\n");
    writeFileSync(join(rootfs, "app", "index.js"), "v0\n"); // same size, other content
    writeFileSync(join(rootfs, "app", "same.js"), "same\n");
    chmodSync(join(rootfs, "app", "same.js"), 0o644);
    chmodSync(join(host, "src", "same.js"), 0o644);
    writeFileSync(join(rootfs, "app", "mode.sh"), "#!/bin/sh\n", { mode: 0o644 });
    writeFileSync(join(rootfs, "app", "image-only.txt"), "from the image");
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule({ initial_sync: true })] } })]);
    const e = await events.waitFor((e) => e.action === "initial-sync");
    expect(e.error).toBeUndefined();
    expect(e.files).toEqual([join(host, "src", "index.js"), join(host, "src", "mode.sh"), join(host, "src", "new"), join(host, "src", "new", "n.js")]);
    expect(read("app/index.js")).toBe("v1\n");
    expect(owner(join(rootfs, "app/mode.sh"))[2]).toBe(0o755);
    expect(read("app/new/n.js")).toBe("n\n");
    expect(read("app/image-only.txt")).toBe("from the image");
  });

  it("initial_sync reports an up-to-date tree", async () => {
    writeFileSync(join(rootfs, "app", "index.js"), "v1\n");
    chmodSync(join(rootfs, "app", "index.js"), owner(join(host, "src", "index.js"))[2]);
    chmodSync(join(rootfs, "app"), owner(join(host, "src"))[2]);
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule({ initial_sync: true })] } })]);
    const e = await events.waitFor((e) => e.action === "initial-sync");
    expect(formatWatchEvent(e)).toMatch(/^app: initial sync: 0 files \(up to date\)/);
  });

  it("says when the service is not running", async () => {
    const { events, port } = await startWatcher([makeService("app", { develop: { watch: [rule()] } })]);
    port.running = false;
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    const e = await events.waitFor((e) => e.action === "warning");
    expect(formatWatchEvent(e)).toBe("app: not running: 1 change not synced");
  });

  it("reports a sync that cannot be applied, and syncs again on the next change", async () => {
    writeFileSync(join(rootfs, "blocker"), "a file where a directory should be");
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule({ target: "/blocker/app" })] } })]);
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    const e = await events.waitFor((e) => e.action === "sync");
    expect(formatWatchEvent(e)).toMatch(/^app: sync failed: sync into demo-app-1 failed: cannot sync to \/blocker\/app\/index.js: \/blocker is a file in the container/);
    rmSync(join(rootfs, "blocker"));
    const from = events.events.length;
    writeFileSync(join(host, "src", "index.js"), "v3\n");
    await events.waitFor((e) => e.action === "sync" && e.error === undefined, 5000, from);
    expect(read("blocker/app/index.js")).toBe("v3\n");
  });
});

describe("Watcher: restart and exec", () => {
  it("sync+restart applies the whole batch before the restart", async () => {
    const { events, port } = await startWatcher([makeService("app", { develop: { watch: [rule({ action: "sync+restart" })] } })]);
    let seen: string[] = [];
    port.onRestart = () => (seen = readdirSync(join(rootfs, "app")).sort());
    for (let i = 0; i < 50; i++) writeFileSync(join(host, "src", `m${i}.js`), "x".repeat(10_000));
    await events.waitFor((e) => e.action === "restart");
    await watcher!.idle();
    expect(port.calls.filter((c) => c.startsWith("restart"))).toHaveLength(events.of("sync").length);
    // The last restart saw every file of the burst.
    expect(seen).toHaveLength(50);
    expect(seen.every((f) => f.endsWith(".js"))).toBe(true);
  });

  it("sync+exec runs the command after the sync, with its options; a failing command is reported", async () => {
    const exec = { command: ["/bin/sh", "-c", "kill -HUP 1"], environment: { A: "1" }, user: "app", working_dir: "/app" };
    const { events, port } = await startWatcher([makeService("app", { develop: { watch: [rule({ action: "sync+exec", exec })] } })]);
    port.execResult = { exitCode: 3, output: "reloading\nno such process\n" };
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    const e = await events.waitFor((e) => e.action === "exec");
    expect(port.execCalls).toEqual([{ argv: exec.command, options: { user: "app", workingDir: "/app", environment: { A: "1" }, privileged: undefined } }]);
    expect(events.events.findIndex((x) => x.action === "sync")).toBeLessThan(events.events.indexOf(e));
    expect(formatWatchEvent(e)).toMatch(/^app: "kill -HUP 1" failed: exit status 3: no such process \(\d+ ms\)$/);
  });

  it("restart rules restart without syncing", async () => {
    const { events, port } = await startWatcher([makeService("app", { develop: { watch: [rule({ action: "restart", target: undefined })] } })]);
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    await events.waitFor((e) => e.action === "restart");
    expect(port.calls).toEqual(["restart app"]);
    expect(readdirSync(join(rootfs, "app"))).toEqual([]);
  });
});

describe("Watcher: rebuild", () => {
  const rebuildRule = () => rule({ action: "rebuild", path: host, target: undefined });

  it("changes during a slow rebuild give exactly one more rebuild", async () => {
    const { events, port } = await startWatcher([makeService("app", { build: build(), develop: { watch: [rebuildRule()] } })]);
    port.rebuildDelayMs = 1500;
    writeFileSync(join(host, "Dockerfile"), "FROM scratch\n");
    await events.waitFor(() => port.calls.includes("rebuild app start"));
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(host, "src", "index.js"), `v${i + 2}\n`);
      await sleep(120);
    }
    await events.waitFor((e) => e.action === "rebuild", 5000);
    await watcher!.idle();
    expect(port.calls).toEqual(["rebuild app start", "rebuild app done", "rebuild app start", "rebuild app done"]);
    expect(events.of("rebuild")[1]!.files).toEqual([join(host, "src", "index.js")]);
  });

  it("a failing rebuild is reported and later changes still rebuild", async () => {
    const { events, port } = await startWatcher([makeService("app", { build: build(), develop: { watch: [rebuildRule()] } })]);
    port.failNextRebuild = "Dockerfile:1: unknown instruction: FORM";
    writeFileSync(join(host, "Dockerfile"), "FORM scratch\n");
    const failed = await events.waitFor((e) => e.action === "rebuild");
    expect(formatWatchEvent(failed)).toBe("app: rebuild failed: Dockerfile:1: unknown instruction: FORM (old container keeps running)");
    await watcher!.idle();
    writeFileSync(join(host, "Dockerfile"), "FROM scratch\n");
    const ok = await events.waitFor((e) => e.action === "rebuild" && e.error === undefined, 5000);
    expect(formatWatchEvent(ok)).toMatch(/^app: rebuilt after 1 change \(\d+ ms\)$/);
  });

  it("--rebuild-on-change rebuilds on a change in the build context, honouring .dockerignore", async () => {
    writeFileSync(join(host, ".dockerignore"), "*.md\nnode_modules\n");
    mkdirSync(join(host, "node_modules"));
    const { events, port } = await startWatcher([makeService("app", { build: build() })], { rebuildOnChange: true });
    writeFileSync(join(host, "README.md"), "docs");
    writeFileSync(join(host, "node_modules", "x.js"), "dep");
    await sleep(200);
    expect(port.calls).toEqual([]);
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    const e = await events.waitFor((e) => e.action === "rebuild");
    expect(e.files).toEqual([join(host, "src", "index.js")]);
  });

  it("a rebuild in the batch wins over its syncs", async () => {
    const { events, port } = await startWatcher([makeService("app", { build: build(), develop: { watch: [rule(), rule({ action: "rebuild", path: join(host, "src", "index.js"), target: undefined })] } })]);
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    await events.waitFor((e) => e.action === "rebuild");
    await watcher!.idle();
    expect(port.calls).toEqual(["rebuild app start", "rebuild app done"]);
    expect(events.of("sync")).toEqual([]);
  });
});

describe("Watcher: bind mounts", () => {
  it("reports an overlapping bind mount once, skips sync, keeps rebuild", async () => {
    writeFileSync(join(host, "Dockerfile"), "FROM scratch\n");
    const volumes: ServiceModel["volumes"] = [{ type: "bind", source: join(host, "src"), target: "/app", read_only: false, bind: { create_host_path: true } }];
    const { events, port } = await startWatcher([
      makeService("app", { build: build(), volumes, develop: { watch: [rule({ action: "sync+restart" }), rule({ action: "rebuild", path: join(host, "Dockerfile"), target: undefined })] } }),
    ]);
    const warnings = events.of("warning");
    expect(warnings.map(formatWatchEvent)).toEqual([`app: services.app.develop.watch[0]: watch path ${join(host, "src")} is already bind-mounted (${join(host, "src")} → /app): sync skipped, the files are there`]);
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    await events.waitFor((e) => e.action === "restart");
    expect(readdirSync(join(rootfs, "app"))).toEqual([]);
    writeFileSync(join(host, "src", "index.js"), "v3\n");
    writeFileSync(join(host, "Dockerfile"), "FROM scratch\n");
    await events.waitFor((e) => e.action === "rebuild");
    expect(events.of("warning")).toHaveLength(1);
    expect(events.of("sync")).toEqual([]);
    expect(port.calls).toContain("rebuild app done");
  });
});

describe("Watcher: start and stop", () => {
  it("watches for a path that does not exist yet", async () => {
    const { events, port } = await startWatcher([makeService("app", { build: build(), develop: { watch: [rule(), rule({ action: "rebuild", path: join(host, "Dockerfile"), target: undefined })] } })]);
    expect(events.of("warning").map(formatWatchEvent)).toEqual([`app: services.app.develop.watch[1]: ${join(host, "Dockerfile")} does not exist (yet); watching for it`]);
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    await events.waitFor((e) => e.action === "sync");
    writeFileSync(join(host, "Dockerfile"), "FROM scratch\n");
    await events.waitFor((e) => e.action === "rebuild");
    expect(port.calls).toEqual(["rebuild app start", "rebuild app done"]);
  });

  it("rejects bad rules before watching anything", async () => {
    const w = new Watcher({ model: makeStack([makeService("app", { develop: { watch: [rule({ target: undefined })] } })]), port: new TempDirPort({}), log: () => {} });
    await expect(w.start()).rejects.toThrow(/services\.app\.develop\.watch\[0\]\.target: missing/);
    expect(inotifyWatchCount()).toBe(inotifyBefore);
  });

  it("starts once", async () => {
    await startWatcher([makeService("app", { develop: { watch: [rule()] } })]);
    await expect(watcher!.start()).rejects.toThrow("Watcher.start: already running");
  });

  it("skips initial_sync for a service that does not run, and says so", async () => {
    const port = new TempDirPort({});
    const events = new EventLog();
    watcher = new Watcher({ model: makeStack([makeService("app", { develop: { watch: [rule({ initial_sync: true })] } })], { project_dir: host }), port, log: events.log });
    await watcher.start();
    expect(events.of("warning").map(formatWatchEvent)).toEqual(["app: not running: initial sync skipped"]);
  });

  it("stop ends watching: later changes do nothing", async () => {
    const { events, port } = await startWatcher([makeService("app", { develop: { watch: [rule({ action: "sync+restart" })] } })]);
    await watcher!.stop();
    writeFileSync(join(host, "src", "index.js"), "v2\n");
    await sleep(200);
    expect(port.calls).toEqual([]);
    expect(events.of("sync")).toEqual([]);
  });
});

describe.skipIf(skipUnlessRoot("watch ownership checks"))("Watcher as root", () => {
  it("gives synced files and made directories to the container user", async () => {
    const { events } = await startWatcher([makeService("app", { develop: { watch: [rule({ target: "/srv/new/app" })] } })]);
    mkdirSync(join(host, "src", "sub"));
    writeFileSync(join(host, "src", "sub", "a.js"), "a");
    await events.waitFor(() => existsSync(join(rootfs, "srv/new/app/sub/a.js")));
    for (const p of ["srv", "srv/new", "srv/new/app", "srv/new/app/sub", "srv/new/app/sub/a.js"]) expect(owner(join(rootfs, p)).slice(0, 2)).toEqual([1234, 2345]);
  });
});
