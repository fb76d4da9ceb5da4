// The quickstart end to end, as a new engineer runs it: the Debian base image
// made by scripts/make-base-image.sh (its tarball cached where the test says),
// then `stack up -d --wait` on examples/quickstart with fresh state and run
// dirs, a unique project name and a free host port. The page must show all
// four parts working (PostgreSQL counter, Redis cache, a RabbitMQ job done by
// the worker); the counter survives `restart db` and `down`/`up`, and is gone
// after `down -v`; `logs` has lines of every service; `down` leaves nothing.
// The first `up` builds four images from Debian packages: the mirror is the
// cost (see docs/quickstart.md for measured times).
import { execa } from "execa";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStack, type StackRun } from "../../helpers/cli.js";
import { isRoot } from "../../helpers/root.js";
import { QuickstartLeaks } from "./scoped-leaks.js";

const repo = fileURLToPath(new URL("../../..", import.meta.url));
const compose = join(repo, "examples", "quickstart", "compose.yaml");
const SERVICES = ["app", "cache", "db", "migrate", "queue", "worker"];

function skipReason(): string | undefined {
  if (!isRoot) return "needs root (mounts, namespaces, cgroups); CI runs it as root";
  for (const tool of ["mmdebstrap", "runc"]) {
    const found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].some((d) => existsSync(join(d, tool)));
    if (!found) return `${tool} is not installed (scripts/setup-host.sh installs it)`;
  }
  return undefined;
}
const reason = skipReason();
if (reason) console.warn(`skipping the quickstart end-to-end test: ${reason}`);

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

interface Status {
  ok: boolean;
  app: string;
  database: { ok: boolean; visits?: number; error?: string };
  cache: { ok: boolean; value?: string; hit?: boolean; hits?: number; error?: string };
  queue: { ok: boolean; id?: string; sent?: string; result?: string; worker?: string; error?: string };
}

describe.skipIf(reason !== undefined)("quickstart: examples/quickstart end to end", () => {
  const timings: Record<string, number> = {};
  let dir: string;
  let env: Record<string, string>;
  let project: string;
  let port: number;
  let leaks: QuickstartLeaks;
  let volumeDir: string;

  const stack = async (args: string[], timeout = 120_000, label = args.join(" ")): Promise<StackRun> => {
    const started = Date.now();
    const r = await runStack(["-f", compose, "-p", project, ...args], { env, timeout });
    timings[label] = Date.now() - started;
    return r;
  };
  const ok = (r: StackRun, what: string): StackRun => {
    if (r.exitCode === 0) return r;
    let supervisor = "";
    try {
      supervisor = readFileSync(join(env.STACK_RUN_DIR!, project, "supervisor.log"), "utf8").slice(-3000);
    } catch {
      // no supervisor yet
    }
    throw new Error(`${what} failed (exit ${r.exitCode}):\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}\nsupervisor.log:\n${supervisor}`);
  };
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  /** The app's status; retried briefly, since a restarted dependency may take a moment to answer. */
  const status = async (): Promise<Status> => {
    let last = "";
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const res = await fetch(url("/status.json"), { signal: AbortSignal.timeout(15_000) });
        const body = (await res.json()) as Status;
        if (res.status === 200 && body.ok) return body;
        last = `HTTP ${res.status}: ${JSON.stringify(body)}`;
      } catch (e) {
        last = String(e);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`the app's /status.json did not report every part working: ${last}`);
  };

  beforeAll(async () => {
    dir = mkdtempSync("/tmp/stack-quickstart-");
    project = `quickstart-t${process.pid}`;
    port = await freePort();
    const cacheDir = process.env.STACK_CACHE_DIR ?? join(repo, ".cache", "stack");
    mkdirSync(cacheDir, { recursive: true });
    env = {
      STACK_STATE_DIR: join(dir, "state"),
      STACK_RUN_DIR: join(dir, "run"),
      STACK_CACHE_DIR: cacheDir,
      APP_PORT: String(port),
    };
    leaks = new QuickstartLeaks(dir, project, env.STACK_STATE_DIR!, env.STACK_RUN_DIR!);
    const started = Date.now();
    const base = await execa("bash", [join(repo, "scripts", "make-base-image.sh")], { env, reject: false, timeout: 600_000, all: true });
    timings["make-base-image.sh"] = Date.now() - started;
    if (base.exitCode !== 0) throw new Error(`scripts/make-base-image.sh failed (exit ${base.exitCode}):\n${String(base.all).slice(-4000)}`);
  }, 660_000);

  afterAll(async () => {
    console.log(`quickstart timings (ms): ${JSON.stringify(timings)}`);
    if (!dir) return;
    try {
      // After a failure half-way: take whatever is still up down (a no-op after a clean run).
      await runStack(["-f", compose, "-p", project, "down", "-v", "-t", "0"], { env, timeout: 120_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it("comes up with `up -d --wait` (building the four images) and the page shows every part working", async () => {
    ok(await stack(["up", "-d", "--wait"], 540_000, "up -d --wait (building the images)"), "up -d --wait (cold)");
    leaks.recordWhileUp();
    // The leak check sees the running project (so its silence after `down` means something).
    const running = leaks.left().join("\n");
    for (const kind of ["netns", "links", "cgroups", "mounts", "processes"]) expect(running).toMatch(new RegExp(`^${kind}: `, "m"));
    const first = await status();
    expect(first.database.visits).toBeGreaterThanOrEqual(1);
    expect(first.cache.value).toMatch(/^computed by /);
    expect(first.queue.result).toBe(first.queue.sent!.toUpperCase());
    expect(first.queue.worker).toBeTruthy();

    const second = await status();
    expect(second.database.visits).toBe(first.database.visits! + 1);
    expect(second.cache).toMatchObject({ ok: true, hit: true, value: first.cache.value });
    expect(second.cache.hits).toBeGreaterThanOrEqual(1);
    expect(second.queue.id).not.toBe(first.queue.id);

    const page = await fetch(url("/"), { signal: AbortSignal.timeout(15_000) });
    const html = await page.text();
    expect(page.status, html).toBe(200);
    expect(html).toContain("stack quickstart");
    for (const part of ["database", "cache", "queue"]) expect(html).toMatch(new RegExp(`<tr id="${part}" class="ok">`));
    expect(html).toMatch(/PostgreSQL counted <b>\d+<\/b> visits/);

    const ps = ok(await stack(["ps", "-a", "--format", "json"]), "ps");
    expect(ps.stdout).toMatch(/"Service":\s*"migrate"/);
  }, 600_000);

  it("keeps the counter across `stack restart db`", async () => {
    const before = (await status()).database.visits!;
    ok(await stack(["restart", "db"], 120_000), "restart db");
    const after = await status();
    expect(after.database.visits).toBe(before + 1);
  }, 240_000);

  it("`stack logs` has lines of every service", async () => {
    const r = ok(await stack(["logs", "--no-color"]), "logs");
    const prefixes = new Set(r.stdout.split("\n").map((l) => /^(\S+?)(?:-\d+)?\s+\|/.exec(l)?.[1]).filter(Boolean));
    for (const s of SERVICES) expect([...prefixes], r.stdout.slice(-3000)).toContain(s);
    expect(r.stdout).toMatch(/migrate.*tables visits and jobs are ready/);
    // migrate retries a database it cannot reach; after service_healthy it should not have to: say so when it did.
    const retries = r.stdout.split("\n").filter((l) => l.includes("database not reachable yet"));
    if (retries.length > 0) console.warn(`quickstart: migrate had to retry the healthy database:\n${retries.join("\n")}`);
    expect(r.stdout).toMatch(/worker.*processed job/);
  }, 60_000);

  it("`down` leaves nothing behind but the volume; `up` again keeps the counter; `down -v` removes the volume", async () => {
    const visits = (await status()).database.visits!;
    ok(await stack(["down"], 180_000), "down");
    leaks.assertNone();
    volumeDir = join(env.STACK_STATE_DIR!, "volumes", `${project}_dbdata`);
    expect(existsSync(volumeDir), "the named volume stays after down").toBe(true);

    ok(await stack(["up", "-d", "--wait"], 300_000, "up -d --wait (images built, volume kept)"), "up -d --wait (warm)");
    leaks.recordWhileUp();
    expect((await status()).database.visits).toBe(visits + 1);

    ok(await stack(["down", "-v"], 180_000), "down -v");
    leaks.assertNone();
    expect(existsSync(volumeDir), "down -v removes the named volume").toBe(false);
    const volumes = join(env.STACK_STATE_DIR!, "volumes");
    expect(existsSync(volumes) ? readdirSync(volumes).filter((v) => v.startsWith(`${project}_`)) : []).toEqual([]);
  }, 600_000);
});
