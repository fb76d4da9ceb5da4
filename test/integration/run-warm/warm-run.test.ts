// The warm `stack run` end to end (src/cli/run-handoff.ts → the project's
// supervisor, src/supervisor/run-host.ts), as a user types it: same output,
// streams, exit codes and errors as the local path (STACK_RUN_LOCAL=1),
// stdin relayed, Ctrl-C and a killed client handled, the local path when no
// supervisor (or an older one) answers, and nothing left behind.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { skipUnlessRoot } from "../../helpers/root.js";
import { stackBin } from "../../helpers/cli.js";
import { IMAGE, makeProject, type Project } from "../engine/harness.js";

const served = (p: Project) => {
  const log = join(p.runDir, p.name, "supervisor.log");
  return existsSync(log) ? readFileSync(log, "utf8").split("\n").filter((l) => l.includes("run: serving")).length : 0;
};

const oneOffs = async (p: Project) => {
  const ps = await p.stack(["ps", "-a", "--format", "json"]);
  return ps.stdout.trim().split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { Name: string }).Name).filter((n) => n.includes("-run-"));
};

/** A client started in the background, its stdout gathered; resolves `ready` once `marker` was printed. */
function startClient(p: Project, args: string[]) {
  const child = spawn(process.execPath, [stackBin, ...args], { cwd: p.dir, env: p.env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on("close", (code, signal) => r({ code, signal })));
  const printed = (marker: string) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${JSON.stringify(marker)} after 30 s; stdout ${JSON.stringify(stdout)} stderr ${JSON.stringify(stderr)}`)), 30_000);
      const check = () => {
        if (stdout.includes(marker)) {
          clearTimeout(t);
          resolve();
        }
      };
      child.stdout.on("data", (b: Buffer) => {
        stdout += b.toString();
        check();
      });
    });
  return { child, exited, printed, out: () => stdout, err: () => stderr };
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(skipUnlessRoot("warm run tests (runc, overlay, cgroups)"))("stack run through the project's supervisor", () => {
  let p: Project | undefined;
  afterEach(async () => {
    await p?.dispose();
    p = undefined;
  });

  const stackFile = `
services:
  db:
    image: ${IMAGE}
    network_mode: none
    command: sleep 600
  app:
    image: ${IMAGE}
    network_mode: none
    environment: {ROLE: application}
    depends_on: [db]
`;

  test("output, separate streams, stdin, exit codes and errors are the local path's; --rm leaves nothing", { timeout: 180_000 }, async () => {
    p = await makeProject("warm");
    p.write(stackFile);
    expect((await p.stack(["up", "-d", "db"])).exitCode).toBe(0);
    const local = { ...p.env, STACK_RUN_LOCAL: "1" };
    const project = p;
    const both = async (args: string[], input?: string) => {
      const before = served(project);
      const warm = await project.stack(args, input === undefined ? {} : { input });
      const afterWarm = served(project);
      const { runStack } = await import("../../helpers/cli.js");
      const cold = await runStack(args, { cwd: project.dir, env: local, ...(input === undefined ? {} : { input }) });
      expect(served(project)).toBe(afterWarm); // the local run did not go to the supervisor
      return { warm, cold, servedWarm: afterWarm - before };
    };

    const script = "echo out $ROLE $EXTRA; echo err >&2; cat; exit 5";
    const r = await both(["run", "--rm", "-T", "-e", "EXTRA=2", "app", "sh", "-c", script], "from-stdin\n");
    expect(r.servedWarm).toBe(1);
    expect(r.warm).toMatchObject({ exitCode: 5, stdout: "out application 2\nfrom-stdin\n" });
    expect(r.warm.stderr).toMatch(/ Container \S+-db-1 {2}Running\nerr\n$/); // the dependency's progress, then the container's stderr
    expect(r.warm).toEqual(r.cold);

    // A --rm container's overlay is volatile (nothing to sync at its removal); a kept one's is not.
    const rootOf = "grep ' / ' /proc/mounts";
    const ephemeral = await both(["run", "--rm", "-T", "--no-deps", "app", "sh", "-c", rootOf]);
    expect(ephemeral.warm.stdout).toMatch(/^overlay \/ overlay \S*volatile/);
    const anyId = (r: { stdout: string }) => ({ ...r, stdout: r.stdout.replace(/containers\/[0-9a-f]+\//g, "containers/ID/") });
    expect(anyId(ephemeral.warm)).toEqual(anyId(ephemeral.cold));

    // Two at once: each on its own connection, each with its own output and exit code.
    const before = served(p);
    const [one, two] = await Promise.all([
      p.stack(["run", "--rm", "-T", "--no-deps", "app", "sh", "-c", "sleep 0.3; echo one; exit 11"]),
      p.stack(["run", "--rm", "-T", "--no-deps", "app", "sh", "-c", "echo two; exit 12"]),
    ]);
    expect([one.exitCode, one.stdout, two.exitCode, two.stdout]).toEqual([11, "one\n", 12, "two\n"]);
    expect(served(p) - before).toBe(2);

    // A bigger output arrives whole and in order.
    const big = await both(["run", "--rm", "-T", "app", "sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done"]);
    expect(big.servedWarm).toBe(1);
    expect(big.warm.stdout.split("\n").length).toBe(20001);
    expect(big.warm).toEqual(big.cold);

    // An error the verb gives once it runs (a name in use) reads the same.
    const kept = await p.stack(["run", "-T", "--name", "kept", "app", "sh", "-c", rootOf]);
    expect(kept.exitCode).toBe(0);
    expect(kept.stdout).toMatch(/^overlay \/ overlay /);
    expect(kept.stdout).not.toContain("volatile");
    const conflict = await both(["run", "-T", "--name", "kept", "app", "true"]);
    expect(conflict.servedWarm).toBe(1);
    expect(conflict.warm.exitCode).toBe(1);
    expect(conflict.warm.stderr).toMatch(/(^|\n)error: a container named "kept" exists already\nhint: /);
    expect(conflict.warm).toEqual(conflict.cold);

    // An unknown service: the supervisor declines, the local path gives its error.
    const unknown = await both(["run", "--rm", "-T", "nosuch", "true"]);
    expect(unknown.servedWarm).toBe(0);
    expect(unknown.warm.exitCode).not.toBe(0);
    expect(unknown.warm).toEqual(unknown.cold);

    // Another directory naming another project: not this supervisor's, served locally.
    const other = await both(["-p", `${p.name}other`, "run", "--rm", "-T", "--no-deps", "app", "echo", "elsewhere"]);
    expect(other.servedWarm).toBe(0);
    expect(other.warm).toEqual({ exitCode: 0, stdout: "elsewhere\n", stderr: "" });
    await p.stack(["-p", `${p.name}other`, "down", "-t", "0"]);

    expect(await oneOffs(p)).toEqual([]); // "kept" has its own name; no run-named one is left
  });

  test("Ctrl-C reaches the container; a client killed with -9 gets its --rm container stopped and removed", { timeout: 180_000 }, async () => {
    p = await makeProject("warmsig");
    p.write(stackFile);
    expect((await p.stack(["up", "-d", "db"])).exitCode).toBe(0);
    const loop = "trap 'echo got-int; exit 130' INT; echo ready; while true; do sleep 0.1; done";

    const c = startClient(p, ["run", "--rm", "-T", "app", "sh", "-c", loop]);
    await c.printed("ready");
    c.child.kill("SIGINT");
    const { code } = await c.exited;
    expect(c.out()).toBe("ready\ngot-int\n");
    expect(code).toBe(130);
    expect(served(p)).toBe(1);
    expect(await oneOffs(p)).toEqual([]);

    // A container that ignores the first Ctrl-C is killed by the second.
    const stubborn = startClient(p, ["run", "--rm", "-T", "app", "sh", "-c", "trap '' INT; echo ready; while true; do sleep 0.1; done"]);
    await stubborn.printed("ready");
    stubborn.child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 500));
    stubborn.child.kill("SIGINT");
    expect((await stubborn.exited).code).toBe(137);
    expect(await oneOffs(p)).toEqual([]);

    // A supervisor told to stop lets a run in flight end and answer first.
    const late = startClient(p, ["run", "--rm", "-T", "app", "sh", "-c", "echo ready; sleep 1; echo done; exit 4"]);
    await late.printed("ready");
    const { connect } = await import("node:net");
    const admin = connect(join(p.runDir, p.name, "supervisor.sock"));
    await new Promise((r) => admin.once("connect", r));
    admin.end(JSON.stringify({ v: 1, seq: 1, op: "shutdown" }) + "\n");
    expect((await late.exited).code).toBe(4);
    expect(late.out()).toBe("ready\ndone\n");
    expect(await oneOffs(p)).toEqual([]);
    expect((await p.stack(["up", "-d", "db"])).exitCode).toBe(0); // a new supervisor re-adopts db

    const k = startClient(p, ["run", "--rm", "-T", "app", "sh", "-c", loop]);
    await k.printed("ready");
    k.child.kill("SIGKILL");
    await k.exited;
    const project = p;
    await eventually("the killed client's container to go", async () => (await oneOffs(project)).length === 0);
  });

  test("no supervisor, or one that does not know run: the local path", { timeout: 120_000 }, async () => {
    p = await makeProject("warmcold");
    p.write(stackFile);
    const r = await p.stack(["run", "--rm", "-T", "--no-deps", "app", "sh", "-c", "echo cold; cat"], { input: "in\n" });
    expect(r).toEqual({ exitCode: 0, stdout: "cold\nin\n", stderr: "" });
    expect(existsSync(join(p.runDir, p.name, "supervisor.log"))).toBe(false);

    // An older supervisor answers `run` as an unknown operation.
    const dir = join(p.runDir, p.name);
    mkdirSync(dir, { recursive: true });
    let asked = 0;
    const old = createServer((s) => {
      s.setEncoding("utf8");
      s.on("data", (d: string) => {
        for (const line of d.split("\n").filter(Boolean)) {
          const f = JSON.parse(line) as { seq: number; op: string };
          // What a supervisor of before the warm run answers: `run` is unknown, the rest it serves.
          if (f.op === "run") {
            asked++;
            s.write(JSON.stringify({ v: 1, seq: f.seq, ok: false, error: { category: "invalid-input", message: `unknown operation ${JSON.stringify(f.op)}` } }) + "\n");
          } else {
            s.write(JSON.stringify({ v: 1, seq: f.seq, ok: true, result: f.op === "hello" ? { version: 1, project: p!.name, pid: process.pid } : f.op === "status" ? [] : null }) + "\n");
          }
        }
      });
    });
    await new Promise<void>((resolve) => old.listen(join(dir, "supervisor.sock"), resolve));
    try {
      const viaOld = await p.stack(["run", "--rm", "-T", "--no-deps", "app", "sh", "-c", "echo fallback; exit 3"]);
      expect(viaOld).toEqual({ exitCode: 3, stdout: "fallback\n", stderr: "" });
      expect(asked).toBe(1);
    } finally {
      await new Promise((r) => old.close(r));
      rmSync(join(dir, "supervisor.sock"), { force: true });
    }
    expect(await oneOffs(p)).toEqual([]);
  });
});
