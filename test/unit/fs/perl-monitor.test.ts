// PerlHelper.monitor: a container's monitor forked by the long-lived helper
// (no Node fork, no new perl, one fork of perl): its output goes to the FIFOs
// it opens itself, it runs in its own session, outlives the helper, is reaped
// by the helper while the helper lives, and writes the exit status of what it
// ran as monitorArgv's monitor does.
import { execFileSync } from "node:child_process";
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PerlHelper } from "../../../src/fs/perl-helper.js";

const helper = PerlHelper.create();

async function waitFor(path: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function drain(fd: number): string {
  const buf = Buffer.alloc(65536);
  try {
    const n = readSync(fd, buf, 0, buf.length, null);
    return buf.subarray(0, n).toString("utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EAGAIN") return "";
    throw e;
  }
}

describe.skipIf(!helper)("perl helper: monitor", () => {
  let dir: string;
  let out: string;
  let err: string;
  let readers: number[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-perl-monitor-"));
    out = join(dir, "stdout.fifo");
    err = join(dir, "stderr.fifo");
    execFileSync("mkfifo", [out, err]);
    // Read ends held by the test (non-blocking), so what the monitor writes stays readable after it ends.
    readers = [out, err].map((f) => openSync(f, constants.O_RDWR | constants.O_NONBLOCK));
  });
  afterEach(() => {
    for (const fd of readers) closeSync(fd);
    helper!.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: { name: string; script: string; exit: string; stdout: RegExp; stderr: string }[] = [
    { name: "exit code and both streams", script: "echo to-out; echo to-err >&2; exit 5", exit: "5", stdout: /^to-out\n$/, stderr: "to-err\n" },
    { name: "killed by a signal: 128 + its number", script: "kill -TERM $$", exit: "143", stdout: /^$/, stderr: "" },
    {
      name: "its own session, the helper's child (not this process's)",
      // After "(comm) ": state ppid pgrp session; the monitor is this shell's parent.
      script: 'echo "$PPID $(sed "s/.*) //" /proc/$PPID/stat | cut -d" " -f2,4)"',
      exit: "0",
      stdout: /^(\d+) (\d+) (\d+)\n$/,
      stderr: "",
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const exitFile = join(dir, "exit");
      await helper!.monitor(out, err, exitFile, 0, ["sh", "-c", c.script]);
      await waitFor(exitFile);
      expect(readFileSync(exitFile, "utf8")).toBe(`${c.exit}\n`);
      const stdout = drain(readers[0]!);
      expect(stdout).toMatch(c.stdout);
      expect(drain(readers[1]!)).toBe(c.stderr);
      const m = /^(\d+) (\d+) (\d+)\n$/.exec(stdout);
      if (m) {
        const [, monitor, parent, session] = m.map(Number);
        expect(session).toBe(monitor); // setsid
        expect(parent).not.toBe(process.pid);
        expect(parent).toBe(helperPid());
      }
    });
  }

  it("outlives the helper: the exit is still recorded when the helper ended first", async () => {
    const exitFile = join(dir, "exit");
    await helper!.monitor(out, err, exitFile, 0, ["sh", "-c", "sleep 0.3; exit 3"]);
    const perl = helperPid();
    helper!.close();
    await waitForGone(perl);
    expect(existsSync(exitFile)).toBe(false);
    await waitFor(exitFile);
    expect(readFileSync(exitFile, "utf8")).toBe("3\n");
  });

  it("an ended monitor is reaped at once, with no request to wake the helper (a pidfd does): no zombie left", async () => {
    const exitFile = join(dir, "exit");
    await helper!.monitor(out, err, exitFile, 0, ["sh", "-c", 'echo "$PPID"']);
    await waitFor(exitFile);
    const monitor = Number(drain(readers[0]!).trim());
    // It has ended (its exit file is written last); no zombie stays behind.
    await waitForState(monitor, (s) => s === undefined);
    expect(existsSync(`/proc/${monitor}`)).toBe(false);
  });

  it("a command that cannot run: 127", async () => {
    const exitFile = join(dir, "exit");
    await helper!.monitor(out, err, exitFile, 0, [join(dir, "no-such-program")]);
    await waitFor(exitFile);
    expect(readFileSync(exitFile, "utf8")).toBe("127\n");
  });

  it("a FIFO it cannot open fails the request with its errno, and nothing runs", async () => {
    const exitFile = join(dir, "exit");
    await expect(helper!.monitor(join(dir, "missing.fifo"), err, exitFile, 0, ["touch", join(dir, "ran")])).rejects.toMatchObject({ errno: 2 });
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(exitFile)).toBe(false);
    expect(existsSync(join(dir, "ran"))).toBe(false);
    // The helper still serves.
    await helper!.monitor(out, err, exitFile, 0, ["true"]);
    await waitFor(exitFile);
  });
});

async function waitForGone(pid: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(`/proc/${pid}`) && stateOf(pid) !== "Z") {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not end`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function waitForState(pid: number, ok: (state: string | undefined) => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok(stateOf(pid))) {
    if (Date.now() > deadline) throw new Error(`process ${pid} is ${stateOf(pid) ?? "gone"}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The state letter of /proc/PID/stat (R, S, Z …), or undefined when it is gone. */
function stateOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[0];
  } catch {
    return undefined;
  }
}

function helperPid(): number {
  // The helper is this process's perl child.
  const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  return children.find((pid) => readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "perl") ?? -1;
}
