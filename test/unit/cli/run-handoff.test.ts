// The warm-run client (src/cli/run-handoff.ts) against a stand-in supervisor
// on a unix socket: the answer with the exit code ends the run, and the
// close of the connection that follows is no error.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { handOffRun } from "../../../src/cli/run-handoff.js";
import { PROTOCOL_VERSION } from "../../../src/supervisor/protocol-version.js";

describe("handOffRun", () => {
  const dirs: string[] = [];
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** A supervisor socket for project "p" that answers a run with `frames` (after the acceptance), then keeps the connection open. */
  function supervisor(frames: (seq: number) => object[]): string {
    const runDir = mkdtempSync(join(tmpdir(), "stack-handoff-"));
    dirs.push(runDir);
    mkdirSync(join(runDir, "p"));
    const server = createServer((c: Socket) => {
      let pending = "";
      c.on("data", (b) => {
        pending += b.toString();
        for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
          const req = JSON.parse(pending.slice(0, nl)) as { seq: number; op: string };
          pending = pending.slice(nl + 1);
          if (req.op !== "run") continue;
          for (const f of [{ v: PROTOCOL_VERSION, seq: req.seq, item: { accepted: true } }, ...frames(req.seq)]) c.write(`${JSON.stringify(f)}\n`);
        }
      });
      c.on("error", () => undefined);
    });
    server.listen(join(runDir, "p", "supervisor.sock"));
    servers.push(server);
    return runDir;
  }

  /** Runs handOffRun with stderr captured until a while after it returned (a late close would write then). */
  async function run(runDir: string): Promise<{ code: number | undefined; stderr: string }> {
    let stderr = "";
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
    try {
      const code = await handOffRun(["run", "--rm", "-T", "app", "true"], { STACK_RUN_DIR: runDir, STACK_PROJECT_NAME: "p" }, runDir);
      await new Promise((r) => setTimeout(r, 100));
      return { code, stderr };
    } finally {
      process.stderr.write = write;
    }
  }

  it("ends with the answer's exit code, and says nothing of the close that follows it", async () => {
    const runDir = supervisor((seq) => [{ v: PROTOCOL_VERSION, seq, ok: true, result: { exitCode: 3 } }]);
    expect(await run(runDir)).toEqual({ code: 3, stderr: "" });
  });

  it("a supervisor that goes away after accepting, before answering, is an error (70)", async () => {
    const runDir = supervisor(() => []);
    const s = servers[0]!;
    s.on("connection", (c) => setTimeout(() => c.destroy(), 50));
    const r = await run(runDir);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/^error: the supervisor closed the connection while it ran the container\n/);
  });
});
