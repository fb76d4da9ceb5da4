// The registry verbs through the built CLI, as a user runs them: stack image
// pull/push/tag/save/load, stack login/logout, and the project verbs stack
// pull/push — against docker-registry on 127.0.0.1.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageStore } from "../../../src/image/store/index.js";
import { importBusyboxImage, makeTar } from "../../helpers/busybox-image.js";
import { runStack, stackBin } from "../../helpers/cli.js";
import type { HostSnapshot } from "../../helpers/leaks.js";
import { assertNoOwnLeaks, snapshotOwn } from "./own-leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { addLayeredImage } from "./images.js";
import { htpasswdLine, startRegistry, type RunningRegistry } from "./registry-server.js";

let dir: string;
let before: HostSnapshot;
let registry: RunningRegistry;
let locked: RunningRegistry;

const envFor = (name: string) => ({
  STACK_STATE_DIR: join(dir, name, "state"),
  STACK_RUN_DIR: join(dir, name, "run"),
  DOCKER_CONFIG: join(dir, name, "docker"),
  HOME: join(dir, name),
  PATH: process.env.PATH ?? "/usr/bin:/bin",
});

describe.skipIf(skipUnlessRoot("registry CLI tests"))("registry verbs in the CLI", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "stack-registry-cli-"));
    before = snapshotOwn(dir);
    registry = await startRegistry(join(dir, "registry"));
    writeFileSync(join(dir, "htpasswd"), htpasswdLine("carol", "pa55"));
    locked = await startRegistry(join(dir, "locked"), { htpasswd: join(dir, "htpasswd") });
  });
  afterAll(async () => {
    await registry?.stop();
    await locked?.stop();
    assertNoOwnLeaks(before, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("tags, pushes, removes, pulls again, saves and loads", async () => {
    const env = envFor("roundtrip");
    await importBusyboxImage(env.STACK_STATE_DIR, "local/app:1");
    const name = `${registry.host}/team/cli:1`;
    expect(await runStack(["image", "tag", "local/app:1", name], { env })).toMatchObject({ exitCode: 0, stderr: "" });
    const pushed = await runStack(["image", "push", name], { env });
    expect(pushed.stderr).toBe("");
    expect(pushed.stdout).toMatch(/: Pushed/);
    expect(pushed.stdout).toMatch(new RegExp(`${name.replace(/[.]/g, "\\.")}: digest: sha256:[0-9a-f]{64} size: \\d+\\n$`));

    expect((await runStack(["image", "rm", name, "local/app:1"], { env })).exitCode).toBe(0);
    const pulled = await runStack(["image", "pull", name], { env });
    expect(pulled.stderr).toBe("");
    expect(pulled.stdout).toMatch(/[0-9a-f]{12}: Downloading/);
    expect(pulled.stdout).toMatch(/[0-9a-f]{12}: Pull complete .* in \d+\.\ds/);
    expect(pulled.stdout).toMatch(new RegExp(`Status: Downloaded newer image for ${name.replace(/[.]/g, "\\.")}\\n${name.replace(/[.]/g, "\\.")}\\n$`));
    const again = await runStack(["image", "pull", "-q", name], { env });
    expect(again.stdout).toBe(`${name}\n`);
    const upToDate = await runStack(["image", "pull", name], { env });
    expect(upToDate.stdout).toMatch(/Already exists[\s\S]*Status: Image is up to date/);

    expect((await runStack(["image", "save", "-o", "saved.tar", name], { env, cwd: join(dir, "roundtrip") })).exitCode).toBe(0);
    const other = envFor("loaded");
    const loaded = await runStack(["image", "load", "-i", join(dir, "roundtrip", "saved.tar")], { env: other });
    expect(loaded).toMatchObject({ exitCode: 0, stdout: `Loaded image: ${name}\n` });
    const noOutput = await runStack(["image", "save", name], { env });
    expect(noOutput.exitCode).toBe(1);
    expect(noOutput.stderr).toMatch(/image save: -o FILE is required/);
    const missing = await runStack(["image", "pull", `${registry.host}/team/nothing:1`], { env });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/error: fetching manifest 127\.0\.0\.1:\d+\/team\/nothing:1: the registry answered 404 \(MANIFEST_UNKNOWN/);
  });

  it("logs in and out, writing Docker's config.json with mode 0600", async () => {
    const env = envFor("login");
    await importBusyboxImage(env.STACK_STATE_DIR, `${locked.host}/private/app:1`);
    const denied = await runStack(["image", "push", `${locked.host}/private/app:1`], { env });
    expect(denied.exitCode).toBe(1);
    expect(denied.stderr).toMatch(/denied anonymously[\s\S]*hint: .*stack login 127\.0\.0\.1:\d+/);

    const wrong = await runStack(["login", "-u", "carol", "--password-stdin", locked.host], { env, input: "nope\n" });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toMatch(/login to 127\.0\.0\.1:\d+ failed: the registry answered 401/);
    expect(existsSync(join(env.DOCKER_CONFIG, "config.json"))).toBe(false);
    expect((await runStack(["login", locked.host], { env })).stderr).toMatch(/--username is required/);
    expect((await runStack(["login", "-u", "carol", "-p", "x", "--password-stdin", locked.host], { env, input: "y\n" })).stderr).toMatch(/--password and --password-stdin are mutually exclusive/);
    expect((await runStack(["login", "-u", "carol", "--password-stdin", locked.host], { env, input: "" })).stderr).toMatch(/login: no password given/);
    expect((await runStack(["image", "load"], { env })).stderr).toMatch(/image load: -i FILE is required/);
    const onCommandLine = await runStack(["login", "-u", "carol", "-p", "pa55", locked.host], { env });
    expect(onCommandLine).toMatchObject({ exitCode: 0, stdout: "Login Succeeded\n" });
    expect(onCommandLine.stderr).toMatch(/WARN using --password on the command line is insecure/);

    const ok = await runStack(["login", "-u", "carol", "--password-stdin", locked.host], { env, input: "pa55\n" });
    expect(ok).toMatchObject({ exitCode: 0, stdout: "Login Succeeded\n" });
    const file = join(env.DOCKER_CONFIG, "config.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: { [locked.host]: { auth: Buffer.from("carol:pa55").toString("base64") } } });
    expect((await runStack(["image", "push", `${locked.host}/private/app:1`], { env })).exitCode).toBe(0);

    expect(await runStack(["logout", locked.host], { env })).toMatchObject({ exitCode: 0, stdout: `Removing login credentials for ${locked.host}\n` });
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: {} });
    expect((await runStack(["logout", locked.host], { env })).stdout).toBe(`Not logged in to ${locked.host}\n`);
  });

  it("stack pull and stack push walk the project's services", async () => {
    const env = envFor("project");
    const project = join(dir, "project");
    (await import("node:fs")).mkdirSync(project, { recursive: true });
    await importBusyboxImage(env.STACK_STATE_DIR, `${registry.host}/team/svc:1`);
    writeFileSync(
      join(project, "stack.yaml"),
      [
        "services:",
        "  web:",
        `    image: ${registry.host}/team/svc:1`,
        "  worker:",
        `    image: ${registry.host}/team/svc:1`,
        "  local:",
        `    image: ${registry.host}/team/local-only:1`,
        "    pull_policy: never",
        "  ghost:",
        `    image: ${registry.host}/team/ghost:1`,
        "    profiles: [extra]",
      ].join("\n") + "\n",
    );
    const push = await runStack(["push", "web", "worker"], { env, cwd: project });
    expect(push.stderr).toBe("");
    expect(push.stdout.match(/^Pushing /gm)).toHaveLength(1);

    rmSync(join(env.STACK_STATE_DIR), { recursive: true, force: true });
    const pull = await runStack(["pull"], { env, cwd: project });
    expect(pull.exitCode).toBe(0);
    expect(pull.stdout.match(/^Pulling /gm)).toEqual(["Pulling "]);
    expect(pull.stderr).toBe("Skipping local: pull_policy is never\n");
    expect(await new ImageStore(env.STACK_STATE_DIR).resolve(`${registry.host}/team/svc:1`)).toBeDefined();
    expect(readdirSync(join(env.STACK_STATE_DIR, "registry", "pulled"))).toHaveLength(1);

    const quietMissing = await runStack(["pull", "-q", "--policy", "missing"], { env, cwd: project });
    expect(quietMissing).toMatchObject({ exitCode: 0, stdout: "" });

    const failing = await runStack(["--profile", "extra", "pull", "-q"], { env, cwd: project });
    expect(failing.exitCode).toBe(1);
    expect(failing.stderr).toMatch(/team\/ghost:1: the registry answered 404/);
    const ignored = await runStack(["--profile", "extra", "pull", "-q", "--ignore-pull-failures"], { env, cwd: project });
    expect(ignored.exitCode).toBe(0);
    expect(ignored.stderr).toMatch(/WARN pull of ghost .* failed/);
    const badPolicy = await runStack(["pull", "--policy", "sometimes"], { env, cwd: project });
    expect(badPolicy.stderr).toMatch(/--policy: "sometimes" is not a pull policy/);
  });

  it("a pull killed mid-layer leaves no blob or name, and the next pull completes and sweeps the leftovers", async () => {
    const env = envFor("killed");
    const seed = join(dir, "killed-seed");
    const store = new ImageStore(seed);
    await addLayeredImage(store, "local/big:1", [{ tar: await makeTar([{ name: "big", content: randomBytes(4_000_000) }]), compression: "none" }]);
    const { pushImage } = await import("../../../src/image/registry/index.js");
    await pushImage({ stateDir: seed, ref: "local/big:1", target: `${registry.host}/team/big:1` });

    // A proxy that trickles blobs (64 kB every 50 ms) and tells when bytes have gone out.
    let sentSome: () => void = () => undefined;
    const started = new Promise<void>((r) => (sentSome = r));
    let slow = true;
    const proxy = createHttpServer((req, res) => {
      const upstream = httpRequest({ host: "127.0.0.1", port: Number(registry.host.split(":")[1]), path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!slow || !req.url?.includes("/blobs/") || Number(up.headers["content-length"]) < 1_000_000) return void up.pipe(res);
        up.on("data", (c: Buffer) => {
          up.pause();
          res.write(c.subarray(0, 65536));
          sentSome();
          let rest = c.subarray(65536);
          const tick = setInterval(() => {
            if (rest.length === 0 || res.destroyed) {
              clearInterval(tick);
              up.resume();
              return;
            }
            res.write(rest.subarray(0, 65536));
            rest = rest.subarray(65536);
          }, 50);
        });
        up.on("end", () => res.end());
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
    const name = `127.0.0.1:${(proxy.address() as { port: number }).port}/team/big:1`;
    try {
      const child = spawn(process.execPath, [stackBin, "image", "pull", "-q", name], { env, stdio: "ignore" });
      const exited = new Promise((r) => child.once("exit", r));
      await started;
      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGKILL");
      await exited;
      const killedStore = new ImageStore(env.STACK_STATE_DIR);
      expect(await killedStore.list()).toEqual([]);
      const blobs = readdirSync(join(env.STACK_STATE_DIR, "images", "blobs", "sha256"));
      const record = await store.get("local/big:1");
      expect(blobs).not.toContain(record.manifest.layers[0]!.digest.slice(7));
      expect(readdirSync(join(env.STACK_STATE_DIR, "images", "ingest")).length).toBeGreaterThan(0); // the dead writer's partial file

      slow = false;
      const retry = await runStack(["image", "pull", "-q", name], { env });
      expect(retry).toMatchObject({ exitCode: 0, stdout: `${name}\n` });
      expect((await killedStore.get(name)).id).toBe(record.id);
      expect(readdirSync(join(env.STACK_STATE_DIR, "images", "ingest"))).toEqual([]);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });
});
