// The Compose verbs end to end (root, real runc, networks, supervisor), on
// busybox stacks: what a user types and sees.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, test } from "vitest";
import { stackBin } from "../../helpers/cli.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { IMAGE, makeProject, parseTimestamped, type Project } from "./harness.js";

describe.skipIf(skipUnlessRoot("engine end-to-end tests"))("stack verbs end to end", { timeout: 120_000 }, () => {
  let p: Project | undefined;

  afterEach(async () => {
    const current = p;
    p = undefined;
    await current?.dispose();
  });

  test("start order follows each condition: healthy db, then a one-shot migration, then the app; ps json; logs merged in time order; down leaves nothing", async () => {
    p = await makeProject("order");
    p.write(`
services:
  db:
    image: ${IMAGE}
    init: true
    command: sh -c 'echo db-starting; sleep 1; touch /tmp/ready; echo db-ready; exec sleep 600'
    healthcheck:
      test: ["CMD-SHELL", "[ -f /tmp/ready ]"]
      interval: 200ms
      retries: 100
  migrate:
    image: ${IMAGE}
    command: sh -c 'echo migrate-start; sleep 0.5; echo migrate-done'
    depends_on:
      db: {condition: service_healthy}
  app:
    image: ${IMAGE}
    init: true
    command: sh -c 'echo app-start; exec sleep 600'
    depends_on:
      migrate: {condition: service_completed_successfully}
      db: {condition: service_healthy}
`);
    const up = await p.stack(["--progress", "plain", "up", "-d"]);
    expect(up.stderr).not.toMatch(/error/i);
    expect(up.exitCode).toBe(0);
    expect(up.stderr).toMatch(new RegExp(`Container ${p.name}-db-1\\s+Healthy`));
    expect(up.stderr).toMatch(new RegExp(`Container ${p.name}-migrate-1\\s+Exited\\s+completed successfully`));

    const ps = await p.stack(["ps", "-a", "--format", "json"]);
    expect(ps.exitCode).toBe(0);
    const rows = ps.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => [r.Service, r.State])).toEqual([["app", "running"], ["db", "running"], ["migrate", "exited"]]);
    expect(rows.find((r) => r.Service === "db")!.Health).toBe("healthy");
    expect(rows.find((r) => r.Service === "migrate")!.ExitCode).toBe(0);
    expect(rows.every((r) => r.Project === p!.name && typeof r.ID === "string")).toBe(true);

    // Running services only without -a; --services; -q gives ids.
    expect((await p.stack(["ps", "--services"])).stdout).toBe("app\ndb\n");
    expect((await p.stack(["ps", "-q"])).stdout.trim().split("\n")).toHaveLength(2);

    const logs = await p.stack(["logs", "-t", "--no-color"]);
    const lines = parseTimestamped(logs.stdout);
    const at = (text: string) => lines.find((l) => l.text === text)?.t ?? `missing ${text}`;
    expect(lines.map((l) => l.t)).toEqual([...lines.map((l) => l.t)].sort()); // merged in time order
    expect(at("db-ready") < at("migrate-start")).toBe(true);
    expect(at("migrate-done") < at("app-start")).toBe(true);
    expect(lines.find((l) => l.text === "app-start")!.prefix).toBe("app-1");

    // One service, last line only.
    expect((await p.stack(["logs", "--no-log-prefix", "-n", "1", "migrate"])).stdout).toBe("migrate-done\n");

    const down = await p.stack(["down", "-t", "0"]);
    expect(down.exitCode).toBe(0);
    expect(existsSync(join(p.stateDir, "projects", p.name))).toBe(false);
    expect((await p.stack(["ps", "-a", "-q"])).stdout).toBe("");
  });

  test("a dependency that never becomes healthy fails `up`, naming it, its last health output and its last log lines", async () => {
    p = await makeProject("unhealthy");
    p.write(`
services:
  db:
    image: ${IMAGE}
    init: true
    command: sh -c 'echo database is broken; exec sleep 600'
    healthcheck:
      test: ["CMD-SHELL", "echo still not ready; exit 1"]
      interval: 100ms
      retries: 2
  app:
    image: ${IMAGE}
    command: echo should never start
    depends_on:
      db: {condition: service_healthy}
`);
    const up = await p.stack(["--progress", "plain", "up", "-d"]);
    expect(up.exitCode).not.toBe(0);
    expect(up.stderr).toContain('error: dependency failed: service "db" is unhealthy');
    expect(up.stderr).toContain("last health check output: still not ready");
    expect(up.stderr).toContain("database is broken");
    expect(up.stderr).toMatch(/hint: see `stack logs db`/);
    expect(up.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const ps = await p.stack(["ps", "-a", "--format", "json"]);
    expect(ps.stdout).not.toContain('"Service":"app"');
  });

  test("an edit recreates only the changed service, --dry-run says which field changed; orphans are warned about, then removed", async () => {
    p = await makeProject("recreate");
    const file = (greeting: string, withB = true) => `
services:
  a:
    image: ${IMAGE}
    init: true
    command: sleep 600
${withB ? `  b:
    image: ${IMAGE}
    init: true
    command: sleep 600
    environment:
      GREETING: ${greeting}
` : ""}`;
    p.write(file("hello"));
    expect((await p.stack(["up", "-d"])).exitCode).toBe(0);
    const ids = async () => Object.fromEntries((await p!.stack(["ps", "--format", "json"])).stdout.trim().split("\n").map((l) => JSON.parse(l) as { Service: string; ID: string }).map((r) => [r.Service, r.ID]));
    const before = await ids();

    p.write(file("bonjour"));
    const dry = await p.stack(["--dry-run", "up", "-d"]);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain(`running  ${p.name}-a-1  (unchanged)`);
    expect(dry.stdout).toContain(`recreate ${p.name}-b-1  (changed: environment.GREETING)`);
    expect(await ids()).toEqual(before); // a dry run changes nothing

    const up = await p.stack(["--progress", "plain", "up", "-d"]);
    expect(up.exitCode).toBe(0);
    expect(up.stderr).toMatch(/Recreating\s+changed: environment.GREETING/);
    const after = await ids();
    expect(after.a).toBe(before.a);
    expect(after.b).not.toBe(before.b);

    p.write(file("", false));
    const warned = await p.stack(["up", "-d"]);
    expect(warned.exitCode).toBe(0);
    expect(warned.stderr).toContain(`found orphan containers (${p.name}-b-1)`);
    expect(Object.keys(await ids()).sort()).toEqual(["a", "b"]);
    expect((await p.stack(["up", "-d", "--remove-orphans"])).exitCode).toBe(0);
    expect(Object.keys(await ids())).toEqual(["a"]);
  });

  test("--scale gives several replicas that the embedded DNS answers round-robin; published ports answer on the host", async () => {
    p = await makeProject("scale");
    p.write(`
services:
  web:
    image: ${IMAGE}
    init: true
    command: sh -c 'hostname > /tmp/index.html; exec httpd -f -p 80 -h /tmp'
  front:
    image: ${IMAGE}
    init: true
    command: sh -c 'echo front > /tmp/index.html; exec httpd -f -p 80 -h /tmp'
    ports: ["127.0.0.1::80"]
  client:
    image: ${IMAGE}
    init: true
    command: sh -c 'sleep 1; wget -qO- http://web/; nslookup web; nslookup web; echo looked-up; exec sleep 600'
    depends_on: [web]
`);
    const up = await p.stack(["up", "-d", "--scale", "web=3"]);
    expect(up.exitCode).toBe(0);
    expect(up.stderr).toMatch(/Reachable:\n\s+\S+-front-1\s+http:\/\/127\.0\.0\.1:\d+/);
    const port = (await p.stack(["port", "front", "80"])).stdout.trim();
    expect(port).toMatch(/^127\.0\.0\.1:\d+$/);
    const page = await fetch(`http://${port}/`);
    expect(await page.text()).toBe("front\n");

    let out = "";
    for (let i = 0; i < 50 && !out.includes("looked-up"); i++) {
      await new Promise((r) => setTimeout(r, 200));
      out = (await p.stack(["logs", "--no-log-prefix", "client"])).stdout;
    }
    expect(out.split("\n")[0]).toMatch(/^[0-9a-f]{12}$/); // a replica's hostname, fetched by service name
    const queries = out.split("Server:").slice(1).map((q) => [...q.matchAll(/^Address: (\d+\.\d+\.\d+\.\d+)$/gm)].map((m) => m[1]));
    expect(queries).toHaveLength(2);
    expect(new Set(queries[0]).size).toBe(3); // every replica
    expect([...queries[1]!].sort()).toEqual([...queries[0]!].sort());
    expect(queries[1]![0]).not.toBe(queries[0]![0]); // rotated between answers
  });

  test("--exit-code-from returns that service's exit code and stops the others; attached logs are prefixed", async () => {
    p = await makeProject("exitcode");
    p.write(`
services:
  job:
    image: ${IMAGE}
    command: sh -c 'sleep 1; echo job-finishing; exit 3'
  server:
    image: ${IMAGE}
    init: true
    command: sh -c 'echo server-up; exec sleep 600'
`);
    const up = await p.stack(["up", "--exit-code-from", "job", "--no-color", "-t", "1"]);
    expect(up.exitCode).toBe(3);
    expect(up.stdout).toMatch(/^job-1\s+\| job-finishing$/m);
    expect(up.stdout).toMatch(/^server-1\s+\| server-up$/m);
    const ps = await p.stack(["ps", "-a", "--format", "json"]);
    expect(ps.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { State: string }).State)).toEqual(["exited", "exited"]);
  });

  test("logs -f follows a service across a restart and a recreate", async () => {
    p = await makeProject("follow");
    const file = (v: string) => `
services:
  talker:
    image: ${IMAGE}
    init: true
    command: sh -c 'echo run-of-${v}; exec sleep 600'
`;
    p.write(file("one"));
    expect((await p.stack(["up", "-d"])).exitCode).toBe(0);
    const follower = execa(process.execPath, [stackBin, "logs", "-f", "--no-color", "talker"], { cwd: p.dir, env: p.env, reject: false });
    let seen = "";
    follower.stdout!.on("data", (d: Buffer) => (seen += d.toString()));
    const waitFor = async (what: RegExp) => {
      for (let i = 0; i < 100 && !what.test(seen); i++) await new Promise((r) => setTimeout(r, 100));
      expect(seen).toMatch(what);
    };
    try {
      await waitFor(/run-of-one/);
      expect((await p.stack(["restart", "-t", "0", "talker"])).exitCode).toBe(0);
      await waitFor(/run-of-one[\s\S]*run-of-one/);
      p.write(file("two"));
      expect((await p.stack(["up", "-d"])).exitCode).toBe(0);
      await waitFor(/run-of-two/);
    } finally {
      follower.kill();
      await follower;
    }
  });

  test("exec runs in a running container (exit code, -e, -u); run starts a one-off with the service's config, stdin and exit code, and --rm removes it", async () => {
    p = await makeProject("exec");
    p.write(`
services:
  db:
    image: ${IMAGE}
    init: true
    command: sh -c 'echo stored > /tmp/data; exec sleep 600'
    environment: {ROLE: database}
  app:
    image: ${IMAGE}
    command: echo default-command
    environment: {ROLE: application}
    depends_on: [db]
`);
    expect((await p.stack(["up", "-d", "db"])).exitCode).toBe(0);
    const cat = await p.stack(["exec", "db", "cat", "/tmp/data"]);
    expect([cat.exitCode, cat.stdout]).toEqual([0, "stored\n"]);
    const env = await p.stack(["exec", "-T", "-e", "EXTRA=1", "-u", "app", "db", "sh", "-c", "echo $ROLE $EXTRA $(id -u); exit 4"]);
    expect([env.exitCode, env.stdout]).toEqual([4, "database 1 1000\n"]);
    const missing = await p.stack(["exec", "app", "true"]);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toMatch(/service "app" has no container 1\nhint: start it with `stack up -d`/);

    const run = await p.stack(["run", "--rm", "-T", "-e", "EXTRA=2", "app", "sh", "-c", "echo $ROLE $EXTRA; cat; exit 5"], { input: "from-stdin\n" });
    expect(run.stdout).toBe("application 2\nfrom-stdin\n");
    expect(run.exitCode).toBe(5);
    const plain = await p.stack(["run", "-T", "--name", "once", "app"]);
    expect([plain.exitCode, plain.stdout]).toEqual([0, "default-command\n"]);
    const ps = await p.stack(["ps", "-a", "--format", "json"]);
    const names = ps.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { Name: string }).Name);
    expect(names).toContain(`${p.name}-db-1`);
    expect(names.filter((n) => n.includes("-run-"))).toEqual([]); // --rm removed it
  });

  test("stop, start, kill -s, pause/unpause, top, stats, wait and rm act on the services' containers; up --wait counts a finished one-shot as done", async () => {
    p = await makeProject("life");
    p.write(`
services:
  svc:
    image: ${IMAGE}
    init: true
    command: sh -c 'trap "echo got-hup" HUP; echo started; while true; do sleep 0.2; done'
  once:
    image: ${IMAGE}
    command: sh -c 'sleep 1; exit 7'
  setup:
    image: ${IMAGE}
    command: echo set-up
`);
    const waited = await p.stack(["up", "-d", "--wait", "svc", "setup"]);
    expect(waited.stderr).toBe(waited.stderr.replace(/error/gi, "")); // no error
    expect(waited.exitCode).toBe(0);
    const state = async () => Object.fromEntries((await p!.stack(["ps", "-a", "--format", "json"])).stdout.trim().split("\n").map((l) => JSON.parse(l) as { Service: string; State: string }).map((r) => [r.Service, r.State]));
    expect(await state()).toEqual({ svc: "running", setup: "exited" });

    const top = await p.stack(["top", "svc"]);
    expect(top.stdout).toMatch(/UID\s+PID\s+PPID\s+CMD/);
    expect(top.stdout).toMatch(/sh -c trap/);
    const stats = await p.stack(["stats", "--no-stream", "--format", "json", "svc"]);
    const row = JSON.parse(stats.stdout.trim().split("\n")[0]!) as { Name: string; PIDs: number; MemUsage: string };
    expect(row.Name).toBe(`${p.name}-svc-1`);
    expect(row.PIDs).toBeGreaterThanOrEqual(2);
    expect(row.MemUsage).toMatch(/iB \/ /);

    expect((await p.stack(["kill", "-s", "HUP", "svc"])).exitCode).toBe(0);
    for (let i = 0; i < 30 && !(await p.stack(["logs", "svc"])).stdout.includes("got-hup"); i++) await new Promise((r) => setTimeout(r, 100));
    expect((await p.stack(["logs", "svc"])).stdout).toContain("got-hup");
    expect(await state()).toMatchObject({ svc: "running" }); // HUP is not a stop

    expect((await p.stack(["pause", "svc"])).exitCode).toBe(0);
    expect(await state()).toMatchObject({ svc: "paused" });
    expect((await p.stack(["unpause", "svc"])).exitCode).toBe(0);
    expect(await state()).toMatchObject({ svc: "running" });

    expect((await p.stack(["stop", "-t", "1", "svc"])).exitCode).toBe(0);
    expect(await state()).toMatchObject({ svc: "exited" });
    expect((await p.stack(["start", "svc"])).exitCode).toBe(0);
    expect(await state()).toMatchObject({ svc: "running" });

    expect((await p.stack(["up", "-d", "once"])).exitCode).toBe(0);
    const wait = await p.stack(["wait", "once"]);
    expect([wait.exitCode, wait.stdout]).toEqual([7, "7\n"]);

    const rm = await p.stack(["rm", "-f", "setup", "once"]);
    expect(rm.exitCode).toBe(0);
    expect(Object.keys(await state()).sort()).toEqual(["svc"]);
    const badSignal = await p.stack(["kill", "-s", "NOT A SIGNAL", "svc"]);
    expect(badSignal.exitCode).not.toBe(0);
    expect(badSignal.stderr).toContain('error: --signal: "NOT A SIGNAL" is not a signal');
  });

  test("Ctrl-C during an attached up stops the stack gracefully (exit 130)", async () => {
    p = await makeProject("sigint");
    p.write(`
services:
  svc:
    image: ${IMAGE}
    init: true
    command: sh -c 'echo attached-and-running; exec sleep 600'
`);
    const child = execa(process.execPath, [stackBin, "up", "--no-color"], { cwd: p.dir, env: p.env, reject: false });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 150 && !out.includes("attached-and-running"); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain("attached-and-running");
    child.kill("SIGINT");
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(String(r.stderr)).toContain("Gracefully stopping...");
    const ps = await p.stack(["ps", "-a", "--format", "json"]);
    expect((JSON.parse(ps.stdout.trim()) as { State: string }).State).toBe("exited");
  });

  test("up removes what a crashed command left (a namespace and a container folder no record keeps) and says so", async () => {
    p = await makeProject("crash");
    p.write(`
services:
  svc:
    image: ${IMAGE}
    init: true
    command: sleep 600
`);
    expect((await p.stack(["up", "-d"])).exitCode).toBe(0);
    // What a `kill -9` between the steps of a create leaves: a namespace and a half-made container folder.
    await execa("ip", ["netns", "add", `stack-${p.name}.svc-9`]);
    const ghost = join(p.stateDir, "projects", p.name, "containers", "0123456789abcdef");
    await execa("mkdir", ["-p", join(ghost, "upper")]);
    const up = await p.stack(["up", "-d"]);
    expect(up.exitCode).toBe(0);
    expect(up.stderr).toContain("removed what an interrupted command left: 0123456789abcdef, stack-" + p.name + ".svc-9");
    expect(existsSync(ghost)).toBe(false);
    expect((await execa("ip", ["netns", "list"])).stdout).not.toContain(`stack-${p.name}.svc-9`);
    expect((await p.stack(["ps", "--format", "json"])).stdout).toContain('"State":"running"');
  });

  test("a published port that another program holds fails up before anything starts, naming the port", async () => {
    p = await makeProject("porttaken");
    const { createServer } = await import("node:net");
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", () => r()));
    const port = (holder.address() as { port: number }).port;
    try {
      p.write(`
services:
  web:
    image: ${IMAGE}
    command: sleep 600
    ports: ["127.0.0.1:${port}:80"]
`);
      const up = await p.stack(["up", "-d"]);
      expect(up.exitCode).not.toBe(0);
      expect(up.stderr).toContain(String(port));
      expect(up.stderr).toContain("another program on this host");
      expect((await p.stack(["ps", "-a", "-q"])).stdout).toBe("");
    } finally {
      holder.close();
    }
  });

  test("kill -9 of the supervisor loses no container and no log line; the next command re-adopts them, and a restart policy still works", async () => {
    p = await makeProject("adopt");
    p.write(`
services:
  counter:
    image: ${IMAGE}
    init: true
    command: sh -c 'i=0; while true; do i=$$((i+1)); echo line-$$i; sleep 0.1; done'
  flaky:
    image: ${IMAGE}
    restart: on-failure
    command: sh -c 'echo flaky-run; sleep 1; exit 3'
`);
    expect((await p.stack(["up", "-d"])).exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 800));
    const { readFileSync } = await import("node:fs");
    const pidFile = join(p.runDir, p.name, "supervisor.pid");
    // `up -d` launches the supervisor as it returns, without waiting for it (docs/supervisor.md): on a busy machine it may still be booting.
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    process.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 1500)); // the container keeps writing into its pipe meanwhile

    const ps = await p.stack(["ps", "--format", "json", "counter"]); // no supervisor: answered from the runtime
    expect((JSON.parse(ps.stdout.trim()) as { State: string }).State).toBe("running");
    // Any command that needs logs starts a new supervisor, which re-adopts the containers from its state.
    let lines: number[] = [];
    for (let i = 0; i < 30; i++) {
      const logs = await p.stack(["logs", "--no-log-prefix", "counter"]);
      lines = [...logs.stdout.matchAll(/^line-(\d+)$/gm)].map((m) => Number(m[1]));
      if (lines.length >= 30) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const newPid = Number(readFileSync(pidFile, "utf8").trim());
    expect(newPid).not.toBe(pid);
    expect(lines.length).toBeGreaterThanOrEqual(30);
    expect(lines).toEqual(lines.map((_, i) => i + 1)); // every line, in order: none lost while no supervisor ran
    // The new supervisor serves the embedded DNS again.
    const lookup = await p.stack(["exec", "-T", "counter", "nslookup", "flaky"]);
    expect(lookup.stdout).toMatch(/Name:\s+flaky\nAddress: \d+\.\d+\.\d+\.\d+/);
    // The restart policy is applied by the new supervisor too.
    let runs = 0;
    for (let i = 0; i < 40 && runs < 3; i++) {
      runs = ((await p.stack(["logs", "--no-log-prefix", "flaky"])).stdout.match(/flaky-run/g) ?? []).length;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(runs).toBeGreaterThanOrEqual(3);
  });

  test("a recreated container answers on its published port at once (same address, same MAC: no stale neighbour entry)", async () => {
    p = await makeProject("recreateport");
    const file = (v: string) => `
services:
  web:
    image: ${IMAGE}
    init: true
    command: sh -c 'echo ${v} > /tmp/index.html; exec httpd -f -p 80 -h /tmp'
    ports: ["127.0.0.1::80"]
`;
    p.write(file("first"));
    expect((await p.stack(["up", "-d"])).exitCode).toBe(0);
    const url = `http://${(await p.stack(["port", "web", "80"])).stdout.trim()}/`;
    const get = async () => {
      try {
        return await (await fetch(url, { signal: AbortSignal.timeout(1000) })).text();
      } catch {
        return "";
      }
    };
    let body = "";
    for (let i = 0; i < 30 && body !== "first\n"; i++) body = await get();
    expect(body).toBe("first\n");
    for (let i = 0; i < 5; i++) await get(); // keep the host's neighbour entry fresh, as a browser would
    p.write(file("second"));
    expect((await p.stack(["up", "-d"])).exitCode).toBe(0);
    const url2 = `http://${(await p.stack(["port", "web", "80"])).stdout.trim()}/`;
    const t0 = Date.now();
    body = "";
    while (Date.now() - t0 < 8000 && body !== "second\n") {
      try {
        body = await (await fetch(url2, { signal: AbortSignal.timeout(1000) })).text();
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(body).toBe("second\n");
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
