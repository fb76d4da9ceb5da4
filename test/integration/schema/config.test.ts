// `stack config` through the built CLI, as a user runs it, on the fixtures in
// test/fixtures/config/. It reads files only; the leak check still runs,
// scoped to this test's temp folder (other tests run on the host meanwhile).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runStack, stackBin } from "../../helpers/cli.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
// @ts-expect-error -- a plain .mjs module of the bench, without type declarations
import { generateStack } from "../../../bench/generate-stack.mjs";

const fixtures = fileURLToPath(new URL("../../fixtures/config/", import.meta.url));
const basic = join(fixtures, "basic");

describe("stack config", () => {
  let before: HostSnapshot;
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "stack-config-"));
    before = snapshotHost([tmp]);
  });
  afterAll(() => {
    // Mounts and processes under tmp are this test's; netns, links, cgroups and nft tables it never makes.
    expect(diffSnapshots(before, snapshotHost([tmp])).filter((left) => left.includes(tmp))).toEqual([]);
    rmSync(tmp, { recursive: true, force: true });
  });

  const env = () => ({ STACK_STATE_DIR: join(tmp, "state"), STACK_RUN_DIR: join(tmp, "run"), HOME: tmp });

  it("prints the stack file resolved, as JSON: services, images, ports, volumes as the file says", async () => {
    const r = await runStack(["config", "--format", "json"], { cwd: basic, env: env() });
    expect(r.stderr).toContain("WARN version: the top-level `version` is obsolete");
    expect(r.stderr).toContain("WARN services.web.gpus: accepted but not acted on by stack");
    expect(r.exitCode).toBe(0);
    const model = JSON.parse(r.stdout);
    expect(model.name).toBe("basic");
    expect(Object.keys(model.services)).toEqual(["db", "web"]);
    // As Compose does: the services a profile leaves out are not printed.
    expect(model).not.toHaveProperty("disabled_services");
    expect(model.services.db.image).toBe("postgres:16");
    expect(model.services.web.build.context).toBe(join(basic, "web"));
    expect(model.services.web.ports).toEqual([
      { target: 80, published: "8080", protocol: "tcp", mode: "ingress" },
      { target: 443, published: "9443", host_ip: "127.0.0.1", protocol: "tcp", mode: "ingress" },
    ]);
    expect(model.services.web.volumes).toEqual([
      { type: "bind", source: join(basic, "web/static"), target: "/srv/static", read_only: true, bind: { create_host_path: true } },
      { type: "volume", source: "uploads", target: "/srv/uploads", read_only: false, volume: { nocopy: false } },
    ]);
    expect(model.services.web.environment).toEqual({ DB_HOST: "db", LOG_LEVEL: "info", SECRET_KEY: "from-file" });
    expect(model.services.db.healthcheck.test).toEqual(["CMD-SHELL", "pg_isready"]);
    expect(model.services.db.healthcheck.interval).toBe("1m30s");
    expect(model.volumes.pgdata.name).toBe("shared-pgdata");
    expect(model.volumes.uploads.name).toBe("basic_uploads");
    expect(model.networks.default.name).toBe("basic_default");
  });

  it("prints canonical YAML equal to the JSON, byte-identical across runs", async () => {
    const [y1, y2, j] = await Promise.all([
      runStack(["config"], { cwd: basic, env: env() }),
      runStack(["config"], { cwd: basic, env: env() }),
      runStack(["config", "--format", "json"], { cwd: basic, env: env() }),
    ]);
    expect(y1.exitCode).toBe(0);
    expect(y1.stdout).toBe(y2.stdout);
    expect(parse(y1.stdout, { version: "1.1" })).toEqual(JSON.parse(j.stdout));
    expect(y1.stdout).toMatch(/^ {4}restart: "no"$/m);
  });

  it("prints a file that reads back to the same stack: the same text, the same config hashes", async () => {
    const printed = await runStack(["--profile", "debug", "config"], { cwd: basic, env: env() });
    expect(printed.exitCode).toBe(0);
    const resolved = join(tmp, "resolved.yaml");
    writeFileSync(resolved, printed.stdout);
    const [again, hashes, hashesAgain] = await Promise.all([
      runStack(["--profile", "debug", "-f", resolved, "config"], { cwd: tmp, env: env() }),
      runStack(["--profile", "debug", "config", "--hash", "*"], { cwd: basic, env: env() }),
      runStack(["--profile", "debug", "-f", resolved, "config", "--hash", "*"], { cwd: tmp, env: env() }),
    ]);
    expect(again.stderr).not.toContain("error");
    expect(again.stdout).toBe(printed.stdout);
    expect(hashes.stdout.trim().split("\n")).toHaveLength(3);
    expect(hashesAgain.stdout).toBe(hashes.stdout);
  });

  it.each([
    [["--services"], "db\nweb\n"],
    [["--volumes"], "pgdata\nuploads\n"],
    [["--networks"], "default\n"],
    [["--profiles"], "debug\n"],
    [["--images"], "postgres:16\nbasic-web\n"],
    [["-q"], ""],
    [["--profile", "debug", "--services"], "db\ndebug\nweb\n"],
    [["web", "--services"], "db\nweb\n"],
  ])("%j", async (args, expected) => {
    const profileFlags = args[0] === "--profile" ? args.slice(0, 2) : [];
    const rest = args[0] === "--profile" ? args.slice(2) : args;
    const r = await runStack([...profileFlags, "config", ...rest], { cwd: basic, env: env() });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(expected);
  });

  it("prints all of a large config through a pipe (more than the 64 KiB a pipe buffers)", async () => {
    const file = join(tmp, "large.yaml");
    writeFileSync(file, generateStack(300));
    // spawnSync reads the pipe only between its polls: the CLI does fill the pipe.
    const piped = spawnSync(process.execPath, [stackBin, "-f", file, "-p", "large", "config"], { cwd: tmp, env: env(), encoding: "utf8", maxBuffer: 64 << 20 });
    expect(piped.status).toBe(0);
    const written = await runStack(["-f", file, "-p", "large", "config", "-o", join(tmp, "large.out")], { cwd: tmp, env: env() });
    expect(written.exitCode).toBe(0);
    const expected = readFileSync(join(tmp, "large.out"), "utf8");
    expect(expected.length).toBeGreaterThan(600_000);
    expect(piped.stdout.length).toBe(expected.length);
    expect(piped.stdout).toBe(expected);
  });

  it("--hash prints SERVICE HASH lines; the hash follows the config", async () => {
    const all = await runStack(["config", "--hash", "*"], { cwd: basic, env: env() });
    expect(all.exitCode).toBe(0);
    expect(all.stdout).toMatch(/^db [0-9a-f]{64}\nweb [0-9a-f]{64}\n$/);
    const one = await runStack(["config", "--hash", "web"], { cwd: basic, env: env() });
    expect(all.stdout).toContain(one.stdout);
    const changed = await runStack(["config", "--hash", "web"], { cwd: basic, env: { ...env(), LOG_LEVEL: "debug" } });
    expect(changed.stdout).not.toBe(one.stdout);
    const missing = await runStack(["config", "--hash", "nope"], { cwd: basic, env: env() });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('error: --hash: no such service: "nope"');
  });

  it("SERVICE arguments print those services and what they depend on", async () => {
    const r = await runStack(["config", "web", "--format", "json"], { cwd: basic, env: env() });
    expect(r.exitCode).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout).services)).toEqual(["db", "web"]);
    const only = await runStack(["config", "db", "--format", "json"], { cwd: basic, env: env() });
    expect(Object.keys(JSON.parse(only.stdout).services)).toEqual(["db"]);
    const unknown = await runStack(["config", "nope"], { cwd: basic, env: env() });
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain('no such service: "nope"');
  });

  it("-o writes the file instead of stdout", async () => {
    const out = join(tmp, "out.yaml");
    const r = await runStack(["config", "-o", out], { cwd: basic, env: env() });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("");
    expect(parse(readFileSync(out, "utf8"), { version: "1.1" }).name).toBe("basic");
  });

  it("--no-interpolate keeps ${VAR} as written", async () => {
    const r = await runStack(["config", "--no-interpolate", "--format", "json"], { cwd: basic, env: env() });
    expect(r.exitCode).toBe(0);
    const model = JSON.parse(r.stdout);
    expect(model.services.web.ports[0].published).toBe("${WEB_PORT}");
    expect(model.services.web.environment.LOG_LEVEL).toBe("${LOG_LEVEL:-info}");
  });

  it("reports every schema problem with file:line:col, path, value and hint; exit 1", async () => {
    const r = await runStack(["config", "-q"], { cwd: join(fixtures, "invalid"), env: env() });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n");
    expect(lines.some((l) => /compose\.yaml:4:\d+: services\.web\.restrat: unknown key "restrat" \(did you mean "restart"\?\)/.test(l))).toBe(true);
    expect(lines.some((l) => /compose\.yaml:6:\d+: services\.web\.ports\[0\]: "80x:80" is not a port mapping \(expected \[HOST:\]CONTAINER\[\/PROTOCOL\]\)/.test(l))).toBe(true);
    expect(lines.some((l) => /compose\.yaml:8:\d+: services\.web\.healthcheck\.interval: "5x" is not a duration/.test(l))).toBe(true);
  });

  it("reports semantic problems: unknown services, host port conflicts", async () => {
    const r = await runStack(["config", "-q"], { cwd: join(fixtures, "semantic"), env: env() });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/compose\.yaml:4:\d+: services\.web\.depends_on\.dbb: undefined service "dbb" \(did you mean "db"\?\)/);
    expect(r.stderr).toMatch(/services\.web\.ports: host port "8080\/tcp" is also published by service "db"/);
  });

  it("refuses an unknown --format", async () => {
    const r = await runStack(["config", "--format", "toml"], { cwd: basic, env: env() });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error: --format: "toml" is not a config format');
  });
});
