// CommandMounter: the mount command, and the FIFOs made by the same process.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { realCommandRunner, type CommandRunner } from "../../../src/fs/command-runner.js";
import { CommandMounter } from "../../../src/runtime/mounter.js";

const overlay = { type: "overlay", source: "overlay", target: "/t", options: ["lowerdir=/l", "upperdir=/u", "workdir=/w"] };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("without FIFOs it runs mount(8) alone; with them one shell makes the FIFOs, then execs mount", async () => {
  const calls: string[][] = [];
  const runner: CommandRunner = { ...realCommandRunner, run: async (argv) => (calls.push(argv), { exitCode: 0, stdout: "", stderr: "" }) };
  const m = new CommandMounter(runner);
  await m.mount(overlay);
  await m.mount(overlay, ["/d/out", "/d/err"]);
  expect(calls).toEqual([
    ["mount", "-t", "overlay", "-o", "lowerdir=/l,upperdir=/u,workdir=/w", "overlay", "/t"],
    ["sh", "-c", 'mkfifo -m 600 "$1" "$2" && shift 2 && exec "$@"', "stack-mount", "/d/out", "/d/err", "mount", "-t", "overlay", "-o", "lowerdir=/l,upperdir=/u,workdir=/w", "overlay", "/t"],
  ]);
});

test("the shell makes real FIFOs (mode 0600) and hands the exit status of the command after it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stack-mounter-"));
  dirs.push(dir);
  // `true` stands in for mount(8), which needs root: the FIFO half is what is checked here.
  const runner: CommandRunner = { ...realCommandRunner, run: (argv) => realCommandRunner.run(argv.map((a) => (a === "mount" ? "true" : a))) };
  await new CommandMounter(runner).mount(overlay, [join(dir, "a b.fifo"), join(dir, "err.fifo")]);
  const st = statSync(join(dir, "a b.fifo"));
  expect(st.isFIFO()).toBe(true);
  expect(st.mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, "err.fifo")).isFIFO()).toBe(true);
});

test("a FIFO that cannot be made fails the mount with mkfifo's own words, and mount(8) never runs", async () => {
  const ran: string[][] = [];
  const runner: CommandRunner = { ...realCommandRunner, run: (argv) => (ran.push(argv), realCommandRunner.run(argv.map((a) => (a === "mount" ? "false" : a)))) };
  const err = await new CommandMounter(runner).mount(overlay, ["/nonexistent-stack-dir/out.fifo"]).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(/cannot mount overlay at \/t: .*mkfifo.*nonexistent-stack-dir\/out\.fifo/s);
});
