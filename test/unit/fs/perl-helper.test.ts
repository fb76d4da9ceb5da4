// The perl helper (mkfifo, mount, umount without a process each) and the
// container monitor in perl, on the real perl of the host.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, test } from "vitest";
import { helperEnv, PerlHelper, PerlHelperError } from "../../../src/fs/perl-helper.js";
import { monitorArgv } from "../../../src/runtime/container.js";
import { SyscallMounter } from "../../../src/runtime/mounter.js";
import { skipUnlessRoot } from "../../helpers/root.js";

const helper = PerlHelper.create()!;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-perl-helper-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
afterAll(() => helper.close());

test("what the helper starts gets GOMAXPROCS=1 (for runc) unless the user set one; this process's environment is left alone", async () => {
  const env = { PATH: "/bin" };
  expect(helperEnv(env)).toEqual({ PATH: "/bin", GOMAXPROCS: "1" });
  expect(env).toEqual({ PATH: "/bin" });
  expect(helperEnv({ PATH: "/bin", GOMAXPROCS: "4" })).toEqual({ PATH: "/bin", GOMAXPROCS: "4" });
  const r = await helper.run(["/bin/sh", "-c", 'printf "%s" "$GOMAXPROCS"']);
  expect(r.stdout).toBe(process.env.GOMAXPROCS ?? "1");
});

test("perl is there (Essential on Debian) and the architecture's syscall numbers are known", () => {
  expect(helper).toBeDefined();
  expect(PerlHelper.create("mips")).toBeUndefined();
  expect(PerlHelper.create("x64", ["/nonexistent/perl"])).toBeUndefined();
});

test("mkfifo makes real FIFOs with exactly the mode asked (no umask), names with blanks and tabs included", async () => {
  const a = join(dir, "a b.fifo");
  const b = join(dir, "tab\there.fifo");
  await helper.mkfifo([a, b], 0o600);
  for (const p of [a, b]) {
    const st = statSync(p);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  }
  await helper.mkfifo([join(dir, "wide.fifo")], 0o666);
  expect(statSync(join(dir, "wide.fifo")).mode & 0o777).toBe(0o666);
});

test("a failure answers with errno and the system's words, and the helper goes on answering", async () => {
  const err = await helper.mkfifo([join(dir, "missing", "x.fifo")], 0o600).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PerlHelperError);
  expect((err as PerlHelperError).errno).toBe(2);
  expect((err as Error).message).toMatch(/No such file or directory/);
  const again = await helper.mkfifo([join(dir, "a.fifo"), join(dir, "a.fifo")], 0o600).catch((e: unknown) => e);
  expect((again as PerlHelperError).errno).toBe(17); // EEXIST on the second name
  await helper.mkfifo([join(dir, "b.fifo")], 0o600);
  expect(statSync(join(dir, "b.fifo")).isFIFO()).toBe(true);
});

test("warm starts perl ahead of the first request; warming twice and then asking works", async () => {
  const h = PerlHelper.create()!;
  h.warm();
  h.warm(); // once
  await h.mkfifo([join(dir, "w.fifo")], 0o640);
  expect(statSync(join(dir, "w.fifo")).mode & 0o777).toBe(0o640);
  h.close();
});

test("many requests at once are answered in order", async () => {
  const names = Array.from({ length: 50 }, (_, i) => join(dir, `f${i}`));
  const results = await Promise.allSettled(names.map((n, i) => helper.mkfifo([i % 10 === 9 ? join(dir, "nope", "x") : n], 0o600)));
  results.forEach((r, i) => expect(r.status).toBe(i % 10 === 9 ? "rejected" : "fulfilled"));
});

test("an idle helper does not keep Node alive, and a new one starts after close", async () => {
  const h = PerlHelper.create()!;
  await h.mkfifo([join(dir, "x.fifo")], 0o600);
  h.close();
  await h.mkfifo([join(dir, "y.fifo")], 0o600);
  expect(statSync(join(dir, "y.fifo")).isFIFO()).toBe(true);
  h.close();
  // A Node process that used the helper and does nothing else exits on its own.
  const code = await new Promise<number | null>((resolve) => {
    // The built module (npm run build), as the CLI runs it.
    const child = spawn(process.execPath, ["-e", `import("${new URL("../../../dist/fs/perl-helper.js", import.meta.url).pathname}").then(async (m) => { await m.PerlHelper.create().mkfifo([${JSON.stringify(join(dir, "z.fifo"))}], 0o600); })`], { stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.on("exit", (c) => (clearTimeout(timer), resolve(c)));
  });
  expect(code).toBe(0);
  expect(statSync(join(dir, "z.fifo")).isFIFO()).toBe(true);
});

describe("the perl monitor", () => {
  const run = async (argv: string[]) => {
    const exitFile = join(dir, "exit");
    const out = openSync(join(dir, "out"), "w");
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", out, out] });
    closeSync(out);
    await new Promise((r) => child.on("exit", r));
    return { exit: existsSync(exitFile) ? readFileSync(exitFile, "utf8") : undefined, tmpLeft: existsSync(`${exitFile}.tmp`), out: readFileSync(join(dir, "out"), "utf8") };
  };

  test("runs the command with the monitor's stdout/stderr and records its exit status atomically", async () => {
    expect(await run(monitorArgv(helper.perl, join(dir, "exit"), 65536, ["sh", "-c", "echo to-out; echo to-err >&2; exit 7"]))).toEqual({ exit: "7\n", tmpLeft: false, out: "to-out\nto-err\n" });
  });

  test("a command killed by a signal is recorded as 128 + the signal, as a shell would; a missing one as 127", async () => {
    expect((await run(monitorArgv(helper.perl, join(dir, "exit"), undefined, ["sh", "-c", "kill -TERM $$"]))).exit).toBe("143\n");
    expect((await run(monitorArgv(helper.perl, join(dir, "exit"), undefined, ["/nonexistent/runtime"]))).exit).toBe("127\n");
  });

  test("the shell form (no perl) records the same", async () => {
    expect((await run(monitorArgv(undefined, join(dir, "exit"), 65536, ["sh", "-c", "exit 7"]))).exit).toBe("7\n");
    expect((await run(monitorArgv(undefined, join(dir, "exit"), undefined, ["sh", "-c", "kill -TERM $$"]))).exit).toBe("143\n");
  });

  test("it raises the pipe buffer of a FIFO on its stdout", async () => {
    const fifo = join(dir, "out.fifo");
    await helper.mkfifo([fifo], 0o600);
    const keep = openSync(fifo, "r+");
    try {
      const child = spawn(...(([a, ...r]) => [a!, r] as const)(monitorArgv(helper.perl, join(dir, "exit"), 1024 * 1024, ["sh", "-c", "head -c 700000 /dev/zero"])), { stdio: ["ignore", keep, "ignore"] });
      // 700 KB fit into the raised buffer with no reader: the command ends; the kernel's 64 KiB would block it.
      const ended = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000);
        child.on("exit", () => (clearTimeout(timer), resolve(true)));
      });
      expect(ended).toBe(true);
      expect(readFileSync(join(dir, "exit"), "utf8")).toBe("0\n");
    } finally {
      closeSync(keep);
    }
  });
});

describe.skipIf(skipUnlessRoot("mount(2) through the perl helper"))("SyscallMounter", () => {
  test("mounts and unmounts an overlay, makes the FIFOs first; a bad mount fails naming the target", async () => {
    for (const d of ["lower", "upper", "work", "merged here"]) mkdirSync(join(dir, d));
    writeFileSync(join(dir, "lower", "from-lower"), "x");
    const m = new SyscallMounter(helper);
    const target = join(dir, "merged here"); // a blank, as mountinfo escapes it (\040)
    await m.mount({ type: "overlay", source: "overlay", target, options: [`lowerdir=${join(dir, "lower")}`, `upperdir=${join(dir, "upper")}`, `workdir=${join(dir, "work")}`] }, [join(dir, "o.fifo")]);
    try {
      expect(m.mountsUnder(dir)).toEqual([target]);
      expect(m.mountsUnder(target)).toEqual([target]);
      expect(existsSync(join(target, "from-lower"))).toBe(true);
      expect(statSync(join(dir, "o.fifo")).isFIFO()).toBe(true);
    } finally {
      await m.unmount(target);
    }
    expect(m.mountsUnder(dir)).toEqual([]);
    await m.unmount(target); // absent: not an error
    const bad = await m.mount({ type: "overlay", source: "overlay", target, options: [`lowerdir=${join(dir, "nope")}`, `upperdir=${join(dir, "upper")}`, `workdir=${join(dir, "work")}`] }).catch((e: unknown) => e);
    expect((bad as Error).message).toMatch(new RegExp(`cannot mount overlay at ${target}: No such file or directory`));
    expect(m.mountsUnder(dir)).toEqual([]);
    const fifoFail = await m.mount({ type: "overlay", source: "overlay", target, options: [] }, [join(dir, "nope", "x.fifo")]).catch((e: unknown) => e);
    expect((fifoFail as Error).message).toMatch(/cannot mount overlay at .*: mkfifo .*nope\/x\.fifo: No such file or directory/);
  });
});

describe("run: a command forked by the helper, to its end", () => {
  test("gives the exit code, both outputs and the input, byte for byte", async () => {
    const r = await helper.run(["/bin/sh", "-c", 'cat; echo "to err" >&2; printf "tab\\there"; exit 3'], { input: "line 1\nünïcode\n" });
    expect(r).toEqual({ exitCode: 3, stdout: "line 1\nünïcode\ntab\there", stderr: "to err\n" });
    expect(await helper.run(["/bin/true"])).toEqual({ exitCode: 0, stdout: "", stderr: "" });
  });

  test("an output far beyond a pipe's buffer, and a command that reads no input", async () => {
    const r = await helper.run(["/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"], { input: "y".repeat(200_000) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("x".repeat(300_000));
  });

  test("a command that cannot start ends with 127 and says why; one killed by a signal with 128 + its number", async () => {
    const missing = await helper.run(["/nonexistent/nft", "-f", "-"]);
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toBe("/nonexistent/nft: No such file or directory\n");
    expect((await helper.run(["/bin/sh", "-c", "kill -9 $$"])).exitCode).toBe(137);
  });

  test("commands asked for at once each get their own input (requests still unread in the helper lose nothing)", async () => {
    const rs = await Promise.all([1, 2, 3].map((n) => helper.run(["/bin/sh", "-c", `cat; echo ${n}`], { input: `in${n}\n` })));
    expect(rs.map((r) => r.stdout)).toEqual(["in1\n1\n", "in2\n2\n", "in3\n3\n"]);
  });

  test("a command under way holds up nothing: other requests and shorter commands are answered first, each with its own outputs", async () => {
    const fifo = join(dir, "between.fifo");
    const order: string[] = [];
    const note = <T>(name: string, p: Promise<T>) => p.then((v) => (order.push(name), v));
    const [a, , b] = await Promise.all([
      note("slow", helper.run(["/bin/sh", "-c", "sleep 0.4; echo a; echo a-err >&2; exit 4"])),
      note("mkfifo", helper.mkfifo([fifo], 0o600)),
      note("quick", helper.run(["/bin/echo", "b"])),
    ]);
    expect(order).toEqual(["mkfifo", "quick", "slow"]);
    expect(a).toEqual({ exitCode: 4, stdout: "a\n", stderr: "a-err\n" });
    expect(b).toEqual({ exitCode: 0, stdout: "b\n", stderr: "" });
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  test("the helper leaves no zombie behind, and at the end of its input it still answers the commands under way", async () => {
    const own = PerlHelper.create()!;
    const slow = own.run(["/bin/sh", "-c", "sleep 0.3; echo late"]);
    await own.run(["/bin/true"]);
    const pid = Number((await own.run(["/bin/sh", "-c", "echo $PPID"])).stdout);
    const children = () =>
      readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
        .split(" ")
        .filter(Boolean)
        .map((c) => readFileSync(`/proc/${c}/stat`, "utf8").replace(/^.*\) /, "")[0]);
    // The slow shell only (running or asleep, never a zombie): the two that ended were reaped.
    expect(children()).toHaveLength(1);
    expect(children()[0]).not.toBe("Z");
    own.close(); // stdin ends while the shell still sleeps
    expect(await slow).toEqual({ exitCode: 0, stdout: "late\n", stderr: "" });
  });
});

describe("udp, close and daemon: the supervisor's start, forked by the helper", () => {
  /** A free UDP port on 127.0.0.1 (bound and released by this process). */
  async function freePort(): Promise<number> {
    const { createSocket } = await import("node:dgram");
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  /** Whether this process can bind the port (the helper no longer holds it). */
  async function bindable(port: number): Promise<boolean> {
    const { createSocket } = await import("node:dgram");
    const s = createSocket("udp4");
    return new Promise<boolean>((resolve) => {
      s.once("error", () => resolve(false));
      s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  }

  test("the daemon inherits the held socket and the FIFOs at their numbers, runs in a session of its own with its output in the log; the helper lets the socket go and reaps it", async () => {
    const own = PerlHelper.create()!;
    try {
      const port = await freePort();
      const fd = await own.bindUdp("127.0.0.1", port);
      expect(fd).toBeGreaterThan(2);
      expect(await bindable(port)).toBe(false);
      const fifo = join(dir, "out.fifo");
      await own.mkfifo([fifo], 0o600);
      const log = join(dir, "daemon.log");
      // The daemon: its pid and session, what its socket descriptor is, and whether it holds the FIFO; then it ends.
      const script = `echo "pid=$$ sid=$(cut -d' ' -f6 /proc/$$/stat) fd=$(readlink /proc/$$/fd/${fd} | cut -c1-7)"; ls -l /proc/$$/fd | grep -c out.fifo; echo to-err >&2`;
      const pid = await own.daemon(log, [fifo], [fd], ["/bin/sh", "-c", script]);
      for (let i = 0; i < 200 && !readFileSync(log, "utf8").includes("to-err"); i++) await new Promise((r) => setTimeout(r, 10));
      expect(readFileSync(log, "utf8")).toBe(`pid=${pid} sid=${pid} fd=socket:\n1\nto-err\n`);
      expect(statSync(log).mode & 0o777).toBe(0o640);
      // The helper's own copy is closed: once the daemon ended, the port is free.
      for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(`/proc/${pid}`)).toBe(false); // ended and reaped, no zombie
      expect(await bindable(port)).toBe(true);
    } finally {
      own.close();
    }
  });

  test("close lets an unused socket go; a bad address, a port taken and a descriptor not held fail with their errno", async () => {
    const port = await freePort();
    const fd = await helper.bindUdp("127.0.0.1", port);
    await expect(helper.bindUdp("127.0.0.1", port)).rejects.toMatchObject({ errno: 98 }); // EADDRINUSE
    // A monitor forked meanwhile (it lives as long as its container) does not keep the socket.
    const [out, err] = [join(dir, "m.out"), join(dir, "m.err")];
    await helper.mkfifo([out, err], 0o600);
    const keep = [openSync(out, "r+"), openSync(err, "r+")];
    try {
      await helper.monitor(out, err, join(dir, "m.exit"), 0, ["sleep", "1"]);
      await helper.closeFds([fd]);
      expect(await bindable(port)).toBe(true);
      expect(existsSync(join(dir, "m.exit"))).toBe(false); // the monitor still runs
    } finally {
      for (const k of keep) closeSync(k);
    }
    await expect(helper.bindUdp("localhost", port)).rejects.toMatchObject({ errno: 22 });
    await expect(helper.daemon(join(dir, "log"), [], [fd], ["/bin/true"])).rejects.toMatchObject({ errno: 9 }); // EBADF: not held
    await expect(helper.daemon(join(dir, "log"), [join(dir, "missing.fifo")], [], ["/bin/true"])).rejects.toMatchObject({ errno: 2 });
  });
});
