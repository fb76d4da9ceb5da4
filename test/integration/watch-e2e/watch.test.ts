// Live rebuild end to end, as a user runs it: `stack watch` against real
// busybox containers (runc, overlay rootfs, the project's supervisor).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { skipUnlessRoot } from "../../helpers/root.js";
import { fileWatchSpecPath } from "../../../src/supervisor/file-watch.js";
import { IMAGE, makeProject, type Project } from "../engine/harness.js";
import { execIn, ps, startCli, type RunningCli } from "./harness.js";

/** A build context ./web: a Dockerfile FROM the busybox image that copies msg.txt and runs `command`. */
function writeWebContext(p: Project, command: string, message: string): void {
  mkdirSync(join(p.dir, "web"));
  writeFileSync(join(p.dir, "web", "Dockerfile"), `FROM ${IMAGE}\nCOPY msg.txt /msg.txt\nCMD ["sh", "-c", "${command}"]\n`);
  writeFileSync(join(p.dir, "web", "msg.txt"), `${message}\n`);
}

describe.skipIf(skipUnlessRoot("watch end-to-end tests"))("stack watch", { timeout: 120_000 }, () => {
  let p: Project | undefined;
  let cli: RunningCli | undefined;

  afterEach(async () => {
    cli?.kill();
    cli = undefined;
    try {
      await p?.dispose();
    } finally {
      p = undefined;
    }
  });

  test("sync of new, changed and deleted files, and sync+restart, into a running container; Ctrl-C leaves it running", async () => {
    p = await makeProject("wsync");
    mkdirSync(join(p.dir, "src"));
    mkdirSync(join(p.dir, "conf"));
    writeFileSync(join(p.dir, "src", "hello.txt"), "v1\n");
    writeFileSync(join(p.dir, "conf", "app.conf"), "level=1\n");
    p.write(`
services:
  app:
    image: ${IMAGE}
    init: true
    user: app
    command: sh -c 'date +%s%N >> /tmp/starts; exec sleep 600'
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
        - path: ./conf
          action: sync+restart
          target: /etc/app
`);
    cli = startCli(p, ["watch"]);
    await cli.waitFor(/^app: watching \.\/src \(sync → \/app\), \.\/conf \(sync\+restart → \/etc\/app\)$/, 60_000);
    await cli.waitFor(/^Watching \(Ctrl-C/);
    expect((await ps(p)).app!.Watching).toBe(true);
    expect((await p.stack(["ps"])).stdout).toMatch(/app \(watching\)/);

    // A changed file: synced well under a second after the write, owned by the service's user.
    let wrote = Date.now();
    writeFileSync(join(p.dir, "src", "hello.txt"), "v2\n");
    const synced = await cli.waitFor(/^app: synced 1 file \(\d+ ms\)$/);
    expect(synced.at - wrote).toBeLessThan(1000);
    expect(await execIn(p, "app", "cat /app/hello.txt; stat -c %u:%g /app/hello.txt")).toBe("v2\n1000:1000\n");

    // A new file in a new directory, then a deletion.
    mkdirSync(join(p.dir, "src", "lib"));
    writeFileSync(join(p.dir, "src", "lib", "util.txt"), "util\n");
    await cli.waitFor(/^app: synced \d+ files? \(\d+ ms\)$/);
    for (let i = 0; i < 20 && !(await execIn(p, "app", "cat /app/lib/util.txt 2>/dev/null || true")).includes("util"); i++) await cli.waitFor(/^app: synced/, 5000);
    expect(await execIn(p, "app", "cat /app/lib/util.txt")).toBe("util\n");
    wrote = Date.now();
    rmSync(join(p.dir, "src", "hello.txt"));
    const removed = await cli.waitFor(/^app: removed 1 file \(\d+ ms\)$/);
    expect(removed.at - wrote).toBeLessThan(1000);
    expect(await execIn(p, "app", "ls /app")).toBe("lib\n");

    // sync+restart: the file is there when the process starts again.
    expect(await execIn(p, "app", "wc -l < /tmp/starts")).toBe("1\n");
    writeFileSync(join(p.dir, "conf", "app.conf"), "level=2\n");
    await cli.waitFor(/^app: synced 1 file \(\d+ ms\)$/);
    await cli.waitFor(/^app: restarted \(\d+ (ms|s)\)$/);
    expect(await execIn(p, "app", "cat /etc/app/app.conf; wc -l < /tmp/starts")).toBe("level=2\n2\n");

    // Ctrl-C ends the watch, not the stack.
    expect(await cli.interrupt()).toBe(0);
    cli = undefined;
    const after = await ps(p);
    expect(after.app!.State).toBe("running");
    expect(after.app!.Watching).toBe(false);
  });

  test("rebuild recreates only that service and restarts its restart: true dependents; a broken Dockerfile keeps the old container", async () => {
    p = await makeProject("wbuild");
    writeWebContext(p, "exec sleep 600", "one");
    p.write(`
services:
  web:
    build: ./web
    init: true
    develop:
      watch:
        - path: ./web
          action: rebuild
  side:
    image: ${IMAGE}
    init: true
    command: sh -c 'date +%s%N >> /tmp/starts; exec sleep 600'
    depends_on:
      web: { condition: service_started, restart: true }
  db:
    image: ${IMAGE}
    init: true
    command: sleep 600
`);
    const up = await p.stack(["up", "-d"]);
    expect(up.exitCode, up.stderr).toBe(0);
    cli = startCli(p, ["watch", "--no-up", "web"]);
    await cli.waitFor(/^web: watching \.\/web \(rebuild\)$/, 60_000);
    const before = await ps(p);
    expect(await execIn(p, "web", "cat /msg.txt")).toBe("one\n");

    writeFileSync(join(p.dir, "web", "msg.txt"), "two\n");
    await cli.waitFor(/^web: rebuilt after 1 change \([\d.]+ (ms|s)\)$/, 30_000);
    const after = await ps(p);
    expect(after.web!.ID).not.toBe(before.web!.ID);
    expect(after.side!.ID).toBe(before.side!.ID);
    expect(after.db!.ID).toBe(before.db!.ID);
    expect(await execIn(p, "web", "cat /msg.txt")).toBe("two\n");
    expect(await execIn(p, "side", "wc -l < /tmp/starts")).toBe("2\n");

    // A broken edit: the error is printed and the old container keeps running.
    writeFileSync(join(p.dir, "web", "Dockerfile"), `FROM ${IMAGE}\nCOPY msg.txt /msg.txt\nFORM nothing\n`);
    const failed = await cli.waitFor(/^web: rebuild failed: /, 30_000);
    expect(failed.line).toMatch(/FORM/);
    expect(failed.line).toMatch(/\(old container keeps running\)$/);
    const still = await ps(p);
    expect(still.web!.ID).toBe(after.web!.ID);
    expect(still.web!.State).toBe("running");
    expect(await execIn(p, "web", "cat /msg.txt")).toBe("two\n");
    expect(await cli.interrupt()).toBe(0);
    cli = undefined;
  });

  test("up --watch: logs and watch events interleaved; a rebuild of the only service does not end the attached up; Ctrl-C stops the stack", async () => {
    p = await makeProject("wup");
    writeWebContext(p, "cat /msg.txt; exec sleep 600", "message-one");
    p.write(`
services:
  web:
    build: ./web
    init: true
    develop:
      watch:
        - path: ./web/msg.txt
          action: rebuild
`);
    cli = startCli(p, ["up", "--watch", "--no-color"]);
    await cli.waitFor(/^\[watch\] web: watching \.\/web\/msg\.txt \(rebuild\)$/, 60_000);
    await cli.waitFor(/^web-1\s+\| message-one$/);
    const mark = cli.mark();
    writeFileSync(join(p.dir, "web", "msg.txt"), "message-two\n");
    // The new container's first line may come before or after the watch's report.
    await Promise.all([cli.waitFor(/^\[watch\] web: rebuilt after 1 change/, 30_000, mark), cli.waitFor(/^web-1\s+\| message-two$/, 30_000, mark)]);
    expect((await ps(p)).web!.Watching).toBe(true);
    expect(await cli.interrupt()).toBe(130);
    cli = undefined;
    expect((await ps(p)).web).toBeUndefined(); // stopped: not listed without -a
  });

  test("detached: `stack watch -d` returns, the supervisor syncs with no CLI running, ps shows it, down ends it", async () => {
    p = await makeProject("wdet");
    mkdirSync(join(p.dir, "src"));
    writeFileSync(join(p.dir, "src", "page.txt"), "first\n");
    p.write(`
services:
  app:
    image: ${IMAGE}
    init: true
    command: sleep 600
    develop:
      watch:
        - path: ./src
          action: sync
          target: /srv
          initial_sync: true
`);
    const started = await p.stack(["watch", "-d"]);
    expect(started.exitCode, started.stderr).toBe(0);
    expect(started.stderr).toMatch(/Watching app in the background/);
    // initial_sync copied what the image lacks.
    const read = async () => execIn(p!, "app", "cat /srv/page.txt 2>/dev/null || true");
    for (let i = 0; i < 50 && (await read()) !== "first\n"; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await read()).toBe("first\n");

    writeFileSync(join(p.dir, "src", "page.txt"), "second\n");
    for (let i = 0; i < 50 && (await read()) !== "second\n"; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await read()).toBe("second\n");
    expect((await ps(p)).app!.Watching).toBe(true);

    // One watch per project.
    const second = await p.stack(["watch", "--no-up"]);
    expect(second.exitCode).not.toBe(0);
    expect(second.stderr).toMatch(/already watches app in the background/);

    // --stop ends it; a second --stop says so; -d again starts it.
    const stop = await p.stack(["watch", "--stop"]);
    expect(stop.stderr).toMatch(/Stopped watching project/);
    expect((await ps(p)).app!.Watching).toBe(false);
    expect((await p.stack(["watch", "--stop"])).stderr).toMatch(/No background watch runs/);
    expect((await p.stack(["watch", "-d", "--no-up"])).exitCode).toBe(0);

    const pid = Number(readFileSync(join(p.runDir, p.name, "supervisor.pid"), "utf8"));
    const down = await p.stack(["down", "-t", "0"]);
    expect(down.exitCode, down.stderr).toBe(0);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(false);
    expect(existsSync(fileWatchSpecPath(p.stateDir, p.name))).toBe(false);
  });

  test("bad rules fail before anything starts; --stop takes no services", async () => {
    p = await makeProject("wbad");
    p.write(`
services:
  app:
    image: ${IMAGE}
    command: sleep 600
    develop:
      watch:
        - path: ./src
          action: sync
`);
    const r = await p.stack(["watch"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/services\.app\.develop\.watch\[0\]/);
    const up = await p.stack(["up", "--watch"]);
    expect(up.exitCode).not.toBe(0);
    expect(up.stderr).toMatch(/services\.app\.develop\.watch\[0\]/);
    expect((await ps(p)).app).toBeUndefined();
    const stop = await p.stack(["watch", "--stop", "app"]);
    expect(stop.exitCode).not.toBe(0);
    expect(stop.stderr).toMatch(/--stop takes no services/);
    const noStart = await p.stack(["up", "--watch", "--no-start"]);
    expect(noStart.stderr).toMatch(/--watch cannot be combined with --no-start/);
  });
});
