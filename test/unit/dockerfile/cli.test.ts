// `stack dockerfile parse` through the built CLI (bin/stack → dist/).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStack } from "../../helpers/cli.js";

describe("stack dockerfile parse", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stack-dockerfile-"));
    await writeFile(join(dir, "Dockerfile"), "FROM busybox AS base\nRUN echo \\\n  hi\nENV a=1\n");
    await writeFile(join(dir, "Bad.Dockerfile"), "FROM busybox\nRUNN x\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads ./Dockerfile by default and prints the instructions as JSON", async () => {
    const r = await runStack(["dockerfile", "parse"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { line: 1, endLine: 1, cmd: "from", flags: [], args: ["busybox", "AS", "base"], json: false, heredocs: [] },
      { line: 2, endLine: 3, cmd: "run", flags: [], args: ["echo   hi"], json: false, heredocs: [] },
      { line: 4, endLine: 4, cmd: "env", flags: [], args: ["a", "1", "="], json: false, heredocs: [] },
    ]);
  });

  it("reads stdin with -f -", async () => {
    const r = await runStack(["dockerfile", "parse", "-f", "-"], { cwd: dir, input: 'FROM a\nCMD ["x"]\n' });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)[1]).toMatchObject({ cmd: "cmd", args: ["x"], json: true });
  });

  it("fails with the file, line and a suggestion for an unknown instruction", async () => {
    const r = await runStack(["dockerfile", "parse", "-f", "Bad.Dockerfile"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: Bad\.Dockerfile:2: unknown instruction "RUNN" \(did you mean RUN\?\)\nhint: /);
  });

  it("fails for a missing file", async () => {
    const r = await runStack(["dockerfile", "parse", "-f", "nope"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot read Dockerfile "nope": ENOENT\nhint: pass the Dockerfile with -f FILE/);
  });

  it("warns about empty continuation lines on stderr", async () => {
    const r = await runStack(["dockerfile", "parse", "-f", "-"], { cwd: dir, input: "FROM a\nRUN a \\\n\n b\n" });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/Dockerfile:2: empty continuation line/);
  });
});
