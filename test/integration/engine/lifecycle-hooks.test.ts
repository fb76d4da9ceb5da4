// post_start and pre_stop hooks end to end (root, real runc): what runs,
// as whom, in what order, and what a failing hook does to up and down.
// Also `exec --privileged`, which the hooks' `privileged` shares.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { skipUnlessRoot } from "../../helpers/root.js";
import { IMAGE, makeProject, type Project } from "./harness.js";

/** The effective capability mask a process in the container reports. */
const CAP_EFF = "grep CapEff /proc/self/status";

describe.skipIf(skipUnlessRoot("lifecycle hook tests"))("lifecycle hooks", { timeout: 120_000 }, () => {
  let p: Project | undefined;

  afterEach(async () => {
    const current = p;
    p = undefined;
    await current?.dispose();
  });

  test("post_start hooks run in order after the start, as the service's user unless they say otherwise; pre_stop runs before stop; restart runs both", async () => {
    p = await makeProject("hooks");
    const out = join(p.dir, "out");
    p.write(`
services:
  app:
    image: ${IMAGE}
    init: true
    user: "1000"
    working_dir: /tmp
    environment: {WHO: service}
    command: sh -c 'exec sleep 600'
    volumes: ["${out}:/out"]
    post_start:
      - command: sh -c 'echo "first $$(id -u) $$PWD $$WHO" >> /out/log'
        user: root
      - command: ["sh", "-c", "echo \\"second $$(id -u) $$PWD $$WHO\\" >> /out/log"]
        user: root
        working_dir: /
        environment: {WHO: hook}
      - command: sh -c 'id -u > /tmp/hook-user'
    pre_stop:
      - command: sh -c 'echo "stopping $$(id -u)" >> /out/log'
        user: root
`);
    const up = await p.stack(["up", "-d"]);
    expect(up.stderr).not.toMatch(/error/i);
    expect(up.exitCode).toBe(0);
    expect(readFileSync(join(out, "log"), "utf8")).toBe("first 0 /tmp service\nsecond 0 / hook\n");
    // No user given: the service's.
    expect((await p.stack(["exec", "-T", "app", "cat", "/tmp/hook-user"])).stdout.trim()).toBe("1000");

    const restart = await p.stack(["restart", "app"]);
    expect(restart.exitCode).toBe(0);
    expect(readFileSync(join(out, "log"), "utf8")).toBe("first 0 /tmp service\nsecond 0 / hook\nstopping 0\nfirst 0 /tmp service\nsecond 0 / hook\n");

    const down = await p.stack(["down", "-t", "0"]);
    expect(down.exitCode).toBe(0);
    expect(readFileSync(join(out, "log"), "utf8").split("\n").filter(Boolean).at(-1)).toBe("stopping 0");
  });

  test("a failing post_start hook fails up with its output, and the container runs on; a failing pre_stop hook is reported and the container stops anyway", async () => {
    p = await makeProject("hookfail");
    p.write(`
services:
  app:
    image: ${IMAGE}
    init: true
    command: sh -c 'exec sleep 600'
    post_start:
      - command: sh -c 'echo setting up; echo no such table >&2; exit 3'
    pre_stop:
      - command: ["/no/such/program"]
`);
    const up = await p.stack(["up", "-d"]);
    expect(up.exitCode).not.toBe(0);
    expect(up.stderr).toContain(`services.app.post_start[0]: "sh -c echo setting up; echo no such table >&2; exit 3" exited with 3 in ${p.name}-app-1; its output:`);
    expect(up.stderr).toContain("no such table");
    expect(up.stderr).toContain(`hint: the hook runs in ${p.name}-app-1 as \`stack exec app …\` would`);
    expect(up.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const ps = await p.stack(["ps", "--format", "json"]);
    expect(JSON.parse(ps.stdout.trim()).State).toBe("running");

    const stop = await p.stack(["stop", "-t", "0"]);
    expect(stop.exitCode).toBe(0);
    expect(stop.stderr).toMatch(/services\.app\.pre_stop\[0\]: "\/no\/such\/program" .*stopping .*app-1 all the same/s);
    expect(JSON.parse((await p.stack(["ps", "-a", "--format", "json"])).stdout.trim()).State).toBe("exited");
  });

  test("privileged hooks, exec --privileged and a privileged container get every capability the host has; a plain exec keeps the container's", async () => {
    p = await makeProject("hookpriv");
    const out = join(p.dir, "out");
    p.write(`
services:
  app:
    image: ${IMAGE}
    init: true
    command: sh -c 'exec sleep 600'
    volumes: ["${out}:/out"]
    post_start:
      - command: sh -c '${CAP_EFF} > /out/plain'
      - command: sh -c '${CAP_EFF} > /out/privileged'
        privileged: true
  priv:
    image: ${IMAGE}
    init: true
    privileged: true
    command: sh -c '${CAP_EFF} > /out/container; exec sleep 600'
    volumes: ["${out}:/out"]
`);
    const up = await p.stack(["up", "-d"]);
    expect(up.stderr).not.toMatch(/error/i);
    expect(up.exitCode).toBe(0);
    const mask = (line: string) => BigInt(`0x${line.trim().split(/\s+/)[1]}`);
    const plain = mask(readFileSync(join(out, "plain"), "utf8"));
    const privileged = mask(readFileSync(join(out, "privileged"), "utf8"));
    expect(privileged).toBeGreaterThan(plain);
    expect(privileged & (1n << 21n)).toBe(1n << 21n); // CAP_SYS_ADMIN
    expect(plain & (1n << 21n)).toBe(0n);

    const execPlain = await p.stack(["exec", "-T", "app", "sh", "-c", CAP_EFF]);
    const execPrivileged = await p.stack(["exec", "-T", "--privileged", "app", "sh", "-c", CAP_EFF]);
    expect(mask(execPlain.stdout)).toBe(plain);
    expect(mask(execPrivileged.stdout)).toBe(privileged);
    // What the host withholds (this VM: CAP_SYS_RESOURCE) is left out, or runc could not apply the set.
    const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))![1]}`);
    expect(privileged).toBe(bounding);
    const written = join(out, "container");
    for (let i = 0; i < 100 && !(existsSync(written) && readFileSync(written, "utf8").endsWith("\n")); i++) await new Promise((r) => setTimeout(r, 50));
    expect(mask(readFileSync(written, "utf8"))).toBe(bounding);
  });
});
