// realCommandRunner: real processes, their exit codes, output, input and timeouts.
import { expect, test } from "vitest";
import { realCommandRunner as runner } from "../../../src/fs/command-runner.js";

test("output and exit code are kept exactly (no trimming)", async () => {
  expect(await runner.run(["sh", "-c", "printf 'out\\n'; printf 'err\\n' >&2; exit 3"])).toEqual({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
});

test("input goes to stdin; a command that ignores it still ends", async () => {
  expect((await runner.run(["cat"], { input: "line one\nline two\n" })).stdout).toBe("line one\nline two\n");
  expect((await runner.run(["true"], { input: "x".repeat(1 << 20) })).exitCode).toBe(0);
});

test("without input, stdin is closed: a reader gets EOF at once", async () => {
  expect(await runner.run(["cat"])).toEqual({ exitCode: 0, stdout: "", stderr: "" });
});

test("a timeout ends the command (SIGTERM: 128)", async () => {
  const t0 = Date.now();
  const r = await runner.run(["sleep", "30"], { timeoutMs: 100 });
  expect(r.exitCode).toBe(128);
  expect(Date.now() - t0).toBeLessThan(10_000);
});

test("a missing command is exit -1 with the reason in stderr", async () => {
  const r = await runner.run(["/nonexistent/stack-no-such-command", "x"]);
  expect(r.exitCode).toBe(-1);
  expect(r.stderr).toMatch(/stack-no-such-command: .*ENOENT/);
});

test("runInherit resolves with the exit code, 128 + the signal for a killed command", async () => {
  expect(await runner.runInherit(["sh", "-c", "exit 7"])).toBe(7);
  expect(await runner.runInherit(["sh", "-c", "kill -9 $$"])).toBe(137);
  expect(await runner.runInherit(["/nonexistent/stack-no-such-command"])).toBe(128);
});
