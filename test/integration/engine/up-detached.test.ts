// `up -d` starts its containers without waiting for the supervisor, which it
// launches as it ends: nothing a container does before that supervisor runs
// may be lost — a DNS query at its very start is answered (the UDP socket was
// bound by the CLI and handed over), the output of a one-shot that ended at
// once is in the logs, and a `down` right after waits for the booting
// supervisor, so that no restart policy fights it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { skipUnlessRoot } from "../../helpers/root.js";
import { IMAGE, makeProject, type Project } from "./harness.js";

describe.skipIf(skipUnlessRoot("up -d end-to-end tests"))("up -d with the supervisor launched last", () => {
  let p: Project | undefined;
  afterEach(async () => {
    await p?.dispose();
    p = undefined;
  });

  test("a lookup at the container's start is answered, a one-shot's output is kept, and down right after leaves nothing", async () => {
    p = await makeProject("detached");
    p.write(`
services:
  db:
    image: ${IMAGE}
    init: true
    restart: always
    command: sleep 3600
  app:
    image: ${IMAGE}
    init: true
    depends_on: [db]
    command: sh -c 'nslookup db && echo lookup-done; sleep 3600'
  once:
    image: ${IMAGE}
    command: echo one-shot-line
`);
    const up = await p.stack(["--progress", "plain", "up", "-d"]);
    expect(up.exitCode, up.stderr).toBe(0);
    const runDir = join(p.runDir, p.name);
    // The CLI returned: the supervisor is started (or starting: the start lock names it) — never absent.
    expect(existsSync(join(runDir, "supervisor.sock")) || existsSync(join(runDir, "supervisor.lock"))).toBe(true);
    let logs = "";
    for (let i = 0; i < 50; i++) {
      logs = (await p.stack(["logs", "--no-log-prefix"])).stdout;
      if (logs.includes("lookup-done") && logs.includes("one-shot-line")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(logs).toMatch(/Name:\s+db\nAddress: \d+\.\d+\.\d+\.\d+/);
    expect(logs).toContain("lookup-done");
    expect(logs).toContain("one-shot-line");
    expect(existsSync(join(p.stateDir, "projects", p.name, "supervisor-handoff.json"))).toBe(false);
    expect(existsSync(join(runDir, "supervisor.lock"))).toBe(false);

    // Again, then down at once: down waits for the booting supervisor (db has restart: always).
    expect((await p.stack(["up", "-d", "--force-recreate"])).exitCode).toBe(0);
    const down = await p.stack(["down", "-t", "2"]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(existsSync(join(p.stateDir, "projects", p.name))).toBe(false);
  });
});
