// `stack -p NAME ps/down` where no stack file is at hand, as Compose allows:
// the recorded files when they are still there, else the recorded containers.
import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import { runStack } from "../../helpers/cli.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { IMAGE, makeProject, type Project } from "./harness.js";

describe.skipIf(skipUnlessRoot("recorded project tests"))("a project without its stack file at hand", () => {
  let p: Project | undefined;
  const elsewhere = mkdtempSync("/tmp/stack-e2e-elsewhere-");
  afterEach(async () => {
    await p?.dispose();
    p = undefined;
  });

  test("from another folder: the recorded files; with them gone: the recorded containers; up still needs a file", async () => {
    p = await makeProject("recorded");
    const yaml = `
services:
  web:
    image: ${IMAGE}
    init: true
    command: sleep 600
  worker:
    image: ${IMAGE}
    init: true
    command: sleep 600
`;
    p.write(yaml);
    expect((await p.stack(["--progress", "quiet", "up", "-d"])).exitCode).toBe(0);
    const there = (args: string[]) => runStack(args, { cwd: elsewhere, env: p!.env });

    const ps = await there(["ps", "--format", "json"]);
    expect(ps.exitCode, ps.stderr).toBe(0);
    expect(ps.stderr).toContain(`using project ${p.name}'s files as recorded`);
    expect(ps.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { Service: string }).Service).sort()).toEqual(["web", "worker"]);

    unlinkSync(`${p.dir}/compose.yaml`);
    const up = await there(["up", "-d"]);
    expect(up.exitCode).not.toBe(0);
    expect(up.stderr).toMatch(/no stack file found/);
    const down = await there(["--progress", "plain", "down", "-t", "0"]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stderr).toContain("recorded files are gone: working from its recorded containers");
    expect(down.stderr).not.toMatch(/orphan/);
    const after = await there(["ps", "-a"]);
    expect(after.exitCode).not.toBe(0); // nothing is recorded any more: the plain "no stack file" error
    expect(after.stderr).toMatch(/no stack file found/);
    p.write(yaml); // for the harness's own down and leak check
    rmSync(elsewhere, { recursive: true, force: true });
  });
});
