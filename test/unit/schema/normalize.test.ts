import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { normalizeStack, type NormalizeInput } from "../../../src/schema/normalize.js";
import type { NormalizeContext } from "../../../src/schema/normalize/context.js";
import { normalizedKeys, notActedOn } from "../../../src/schema/normalize/service.js";
import schema from "../../../schemas/stack.schema.json" with { type: "json" };
import { normalizePort } from "../../../src/schema/normalize/ports.js";
import { parseBytes, parseDuration } from "../../../src/schema/normalize/units.js";
import { normalizeServiceVolumes } from "../../../src/schema/normalize/volumes.js";

const ctx: NormalizeContext = { project: "demo", projectDir: "/srv/demo", env: { HOME: "/home/ann" }, readEnvFile: () => undefined, warnings: [] };

function input(doc: Record<string, unknown>, over: Partial<NormalizeInput> = {}): NormalizeInput {
  return { name: "demo", projectDir: "/srv/demo", files: ["/srv/demo/compose.yaml"], profiles: [], doc, env: {}, readEnvFile: () => undefined, ...over };
}

function service(svc: Record<string, unknown>, over: Partial<NormalizeInput> = {}) {
  return normalizeStack(input({ services: { web: { image: "nginx", ...svc } } }, over)).model.services.web!;
}

describe("ports", () => {
  const cases: Array<{ input: unknown; expected: unknown[] }> = [
    { input: 80, expected: [{ target: 80, protocol: "tcp", mode: "ingress" }] },
    { input: "80", expected: [{ target: 80, protocol: "tcp", mode: "ingress" }] },
    { input: "8080:80", expected: [{ target: 80, published: "8080", protocol: "tcp", mode: "ingress" }] },
    { input: "8080:80/udp", expected: [{ target: 80, published: "8080", protocol: "udp", mode: "ingress" }] },
    { input: "127.0.0.1:8080:80", expected: [{ target: 80, published: "8080", host_ip: "127.0.0.1", protocol: "tcp", mode: "ingress" }] },
    { input: "127.0.0.1::80", expected: [{ target: 80, host_ip: "127.0.0.1", protocol: "tcp", mode: "ingress" }] },
    { input: "[::1]:8080:80", expected: [{ target: 80, published: "8080", host_ip: "::1", protocol: "tcp", mode: "ingress" }] },
    {
      input: "8000-8002:9000-9002",
      expected: [
        { target: 9000, published: "8000", protocol: "tcp", mode: "ingress" },
        { target: 9001, published: "8001", protocol: "tcp", mode: "ingress" },
        { target: 9002, published: "8002", protocol: "tcp", mode: "ingress" },
      ],
    },
    { input: "3000-3001", expected: [{ target: 3000, protocol: "tcp", mode: "ingress" }, { target: 3001, protocol: "tcp", mode: "ingress" }] },
    { input: "9000-9010:80", expected: [{ target: 80, published: "9000-9010", protocol: "tcp", mode: "ingress" }] },
    { input: { target: 80, published: 8080, protocol: "UDP", mode: "host", name: "web", app_protocol: "http" }, expected: [{ target: 80, published: "8080", protocol: "udp", mode: "host", name: "web", app_protocol: "http" }] },
  ];
  it.each(cases)("$input", ({ input: value, expected }) => {
    expect(normalizePort(ctx, ["services", "web", "ports", 0], value)).toEqual(expected);
  });

  it.each(["80x:80", "8000-8002:9000-9001", "80:80/icmp", ":80:80"])("refuses %j with its path", (value) => {
    expect(() => normalizePort(ctx, ["services", "web", "ports", 0], value)).toThrowError(/services\.web\.ports\[0\]: /);
  });
});

describe("volumes", () => {
  const cases: Array<{ input: unknown; expected: unknown }> = [
    { input: "./src:/app", expected: { type: "bind", source: "/srv/demo/src", target: "/app", read_only: false, bind: { create_host_path: true } } },
    { input: "/etc/x:/x:ro", expected: { type: "bind", source: "/etc/x", target: "/x", read_only: true, bind: { create_host_path: true } } },
    { input: "~/cache:/cache:rw,z", expected: { type: "bind", source: "/home/ann/cache", target: "/cache", read_only: false, bind: { create_host_path: true, selinux: "z" } } },
    { input: "../shared:/s:ro,rshared", expected: { type: "bind", source: "/srv/shared", target: "/s", read_only: true, bind: { create_host_path: true, propagation: "rshared" } } },
    { input: "data:/data", expected: { type: "volume", source: "data", target: "/data", read_only: false, volume: { nocopy: false } } },
    { input: "data:/data:ro,nocopy", expected: { type: "volume", source: "data", target: "/data", read_only: true, volume: { nocopy: true } } },
    { input: "/anon", expected: { type: "volume", target: "/anon", read_only: false, volume: { nocopy: false } } },
    { input: { type: "bind", source: "./conf", target: "/etc/conf", read_only: true }, expected: { type: "bind", source: "/srv/demo/conf", target: "/etc/conf", read_only: true, bind: { create_host_path: false } } },
    { input: { type: "volume", source: "data", target: "/d", volume: { nocopy: "true", subpath: "sub" } }, expected: { type: "volume", source: "data", target: "/d", read_only: false, volume: { nocopy: true, subpath: "sub" } } },
    { input: { type: "tmpfs", target: "/tmp", tmpfs: { size: "64m", mode: "1777" } }, expected: { type: "tmpfs", target: "/tmp", read_only: false, tmpfs: { size: 64 * 1024 ** 2, mode: 0o1777 } } },
  ];
  it.each(cases)("$input", ({ input: value, expected }) => {
    expect(normalizeServiceVolumes(ctx, ["services", "web", "volumes"], [value])).toEqual([expected]);
  });

  it.each(["a:b:c:d", "./x:/y:rx", "", "data:data", "relative"])("refuses %j", (value) => {
    expect(() => normalizeServiceVolumes(ctx, ["services", "web", "volumes"], [value])).toThrowError(/services\.web\.volumes\[0\]: /);
  });
});

describe("units", () => {
  it.each([
    ["1m30s", 90_000],
    ["1.5s", 1500],
    ["100ms", 100],
    ["1h", 3_600_000],
    ["2h45m", 9_900_000],
    ["10", 10_000],
    [5, 5000],
    ["500us", 1],
    ["5x", undefined],
    ["", undefined],
  ])("duration %j → %j ms", (value, expected) => {
    expect(parseDuration(value)).toBe(expected);
  });

  it.each([
    ["512m", 512 * 1024 ** 2],
    ["1g", 1024 ** 3],
    ["100k", 102_400],
    ["1.5gb", 1.5 * 1024 ** 3],
    ["2MiB", 2 * 1024 ** 2],
    ["64", 64],
    [1024, 1024],
    ["12q", undefined],
  ])("byte size %j → %j", (value, expected) => {
    expect(parseBytes(value)).toBe(expected);
  });
});

describe("services", () => {
  it("depends_on list → map with defaults", () => {
    expect(service({ depends_on: ["db", "cache"] }).depends_on).toEqual({
      cache: { condition: "service_started", required: true, restart: false },
      db: { condition: "service_started", required: true, restart: false },
    });
  });

  it("environment list and map; bare keys take the environment's value, else null", () => {
    expect(service({ environment: ["A=1", "B", "C", "D=x=y"] }, { env: { B: "from-env" } }).environment).toEqual({ A: "1", B: "from-env", C: null, D: "x=y" });
    expect(service({ environment: { A: 1, B: true, C: null } }).environment).toEqual({ A: "1", B: "true", C: null });
  });

  it("env_file values sit under environment, in file order", () => {
    const files: Record<string, Record<string, string>> = { "/srv/demo/a.env": { A: "a", B: "a" }, "/srv/demo/b.env": { B: "b", C: "b" } };
    const s = service({ env_file: ["a.env", { path: "b.env", format: "raw" }, { path: "missing.env", required: false }], environment: { C: "env" } }, { readEnvFile: (p) => files[p] });
    expect(s.environment).toEqual({ A: "a", B: "b", C: "env" });
    expect(s.env_file).toEqual([
      { path: "/srv/demo/a.env", required: true },
      { path: "/srv/demo/b.env", required: true, format: "raw" },
      { path: "/srv/demo/missing.env", required: false },
    ]);
  });

  it("a missing required env_file is an InvalidInputError naming it", () => {
    let err: unknown;
    try {
      service({ env_file: "nope.env" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toBe('services.web.env_file: env file "/srv/demo/nope.env" not found');
  });

  it.each([
    [{ test: "curl -f http://localhost" }, { test: ["CMD-SHELL", "curl -f http://localhost"], interval: 30_000, timeout: 30_000, retries: 3, start_period: 0, start_interval: 5_000, disable: false }],
    [{ test: ["CMD", "true"], interval: "1m30s", timeout: "1.5s", retries: "5", start_period: "100ms", start_interval: "1s" }, { test: ["CMD", "true"], interval: 90_000, timeout: 1500, retries: 5, start_period: 100, start_interval: 1000, disable: false }],
    [{ disable: true }, { test: ["NONE"], interval: 30_000, timeout: 30_000, retries: 3, start_period: 0, start_interval: 5_000, disable: true }],
    [{ test: ["NONE"] }, { test: ["NONE"], interval: 30_000, timeout: 30_000, retries: 3, start_period: 0, start_interval: 5_000, disable: true }],
  ])("healthcheck %j", (hc, expected) => {
    expect(service({ healthcheck: hc }).healthcheck).toEqual(expected);
  });

  it("networks: list → map; the default network when none is named", () => {
    const { model } = normalizeStack(input({ services: { a: { image: "x", networks: ["front"] }, b: { image: "x" }, c: { image: "x", network_mode: "host" } }, networks: { front: null } }));
    expect(model.services.a!.networks).toEqual({ front: { aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} } });
    expect(Object.keys(model.services.b!.networks)).toEqual(["default"]);
    expect(model.services.c!.networks).toEqual({});
    expect(model.networks.default!.name).toBe("demo_default");
    expect(model.networks.front!.name).toBe("demo_front");
  });

  it("build string → context resolved; pull_policy build when there is no image", () => {
    const { model } = normalizeStack(input({ services: { a: { build: "./app" }, b: { build: { context: "https://github.com/x/y.git" }, image: "y" } } }));
    expect(model.services.a!.build!.context).toBe("/srv/demo/app");
    expect(model.services.a!.pull_policy).toBe("build");
    expect(model.services.b!.build!.context).toBe("https://github.com/x/y.git");
    expect(model.services.b!.pull_policy).toBe("missing");
  });

  it("secrets and configs: short → long with default targets", () => {
    const s = service({ secrets: ["pw", { source: "key", target: "k.pem", mode: "0440" }], configs: ["conf", { source: "c2", target: "/etc/c2" }] });
    expect(s.secrets).toEqual([{ source: "pw", target: "/run/secrets/pw" }, { source: "key", target: "/run/secrets/k.pem", mode: 0o440 }]);
    expect(s.configs).toEqual([{ source: "conf", target: "/conf" }, { source: "c2", target: "/etc/c2" }]);
    // Numbers are taken as read (the YAML reader turns a plain 0440 into 288); strings are octal as written.
    expect(service({ secrets: [{ source: "a", mode: 0o440 }, { source: "b", mode: 256 }, { source: "c", mode: "0o600" }, { source: "d", mode: "0440" }] }).secrets.map((r) => r.mode)).toEqual([0o440, 0o400, 0o600, 0o440]);
    expect(() => service({ secrets: [{ source: "a", mode: "rw" }] })).toThrowError('services.web.secrets[0].mode: "rw" is not a file mode');
  });

  it("ulimits, extra_hosts, devices, scale, restart, links, volumes_from", () => {
    const s = service({
      ulimits: { nproc: 512, nofile: { soft: 1024, hard: "2048" } },
      extra_hosts: ["a:1.2.3.4", "b=::1", "c:[::2]"],
      devices: ["/dev/fuse", "/dev/sda:/dev/xvda:r"],
      deploy: { replicas: 3 },
      restart: "on-failure:3",
      links: ["db", "cache:redis"],
      volumes_from: ["data", "container:other:ro"],
    });
    expect(s.ulimits).toEqual({ nofile: { soft: 1024, hard: 2048 }, nproc: { soft: 512, hard: 512 } });
    expect(s.extra_hosts).toEqual([{ host: "a", ip: "1.2.3.4" }, { host: "b", ip: "::1" }, { host: "c", ip: "::2" }]);
    expect(s.devices).toEqual([{ source: "/dev/fuse", target: "/dev/fuse", permissions: "rwm" }, { source: "/dev/sda", target: "/dev/xvda", permissions: "r" }]);
    expect(s.scale).toBe(3);
    expect(s.restart).toBe("on-failure:3");
    expect(s.links).toEqual([{ service: "db", alias: "db" }, { service: "cache", alias: "redis" }]);
    expect(s.volumes_from).toEqual([{ kind: "service", name: "data", read_only: false }, { kind: "container", name: "other", read_only: true }]);
    expect(service({ scale: "2", deploy: { replicas: 3 } }).scale).toBe(2);
    expect(service({ extra_hosts: { h: ["1.1.1.1", "2.2.2.2"] } }).extra_hosts).toEqual([{ host: "h", ip: "1.1.1.1" }, { host: "h", ip: "2.2.2.2" }]);
  });

  it("resources: byte sizes, numbers, booleans from strings", () => {
    const s = service({ mem_limit: "512m", memswap_limit: -1, shm_size: "1g", cpus: "0.5", privileged: "true", init: true, stop_grace_period: "1m" });
    expect([s.mem_limit, s.memswap_limit, s.shm_size, s.cpus, s.privileged, s.init, s.stop_grace_period]).toEqual([512 * 1024 ** 2, -1, 1024 ** 3, 0.5, true, true, 60_000]);
    expect(service({ deploy: { resources: { limits: { cpus: "1.5", memory: "1g", pids: 50 } } } }).deploy!.resources.limits).toEqual({ cpus: 1.5, memory: 1024 ** 3, pids: 50 });
  });

  it("post_start / pre_stop: each hook's command as written, its options; absent when the file has none", () => {
    const s = service({
      image: "x",
      post_start: [{ command: "chown -R 1000 /data", user: "root" }, { command: ["sh", "-c", "echo $$X"], privileged: "true", working_dir: "/w", environment: ["A=1", "B"] }],
      pre_stop: [{ command: "./flush.sh", environment: { C: 3 } }],
    });
    expect(s.post_start).toEqual([
      { command: "chown -R 1000 /data", user: "root", environment: {} },
      { command: ["sh", "-c", "echo $$X"], privileged: true, working_dir: "/w", environment: { A: "1", B: "" } },
    ]);
    expect(s.pre_stop).toEqual([{ command: "./flush.sh", environment: { C: "3" } }]);
    const none = service({ image: "x" });
    expect(none).not.toHaveProperty("post_start");
    expect(none).not.toHaveProperty("pre_stop");
    expect(() => service({ image: "x", post_start: [{ command: "true", privileged: "perhaps" }] })).toThrow(/services\.web\.post_start\[0\]\.privileged: "perhaps" is not a boolean/);
  });

  it("keys not acted on: kept out, one warning each; version is obsolete", () => {
    const { warnings, model } = normalizeStack(input({ version: "3.8", services: { web: { image: "x", gpus: "all", storage_opt: { size: "1G" }, "x-meta": 1 } }, "x-top": { a: 1 } }));
    expect(warnings).toEqual([
      "version: the top-level `version` is obsolete and ignored; remove it",
      "services.web.gpus: accepted but not acted on by stack",
      "services.web.storage_opt: accepted but not acted on by stack",
    ]);
    expect(model.services.web!.extensions).toEqual({ "x-meta": 1 });
    expect(model.extensions).toEqual({ "x-top": { a: 1 } });
  });
});

describe("top-level resources", () => {
  it("names: <project>_<key> unless name: or external", () => {
    const { model } = normalizeStack(
      input({
        services: {},
        volumes: { data: null, named: { name: "exact" }, ext: { external: true }, old: { external: { name: "legacy" } } },
        networks: { ext: { external: true, name: "hostnet" }, mtu: { driver_opts: { "com.docker.network.driver.mtu": 1400 } } },
        secrets: { pw: { file: "./pw.txt" }, env: { environment: "TOKEN" } },
        configs: { inline: { content: "hello" } },
      }),
    );
    expect(Object.values(model.volumes).map((v) => [v.key, v.name, v.external])).toEqual([
      ["data", "demo_data", false],
      ["ext", "ext", true],
      ["named", "exact", false],
      ["old", "legacy", true],
    ]);
    expect(model.networks.ext!.name).toBe("hostnet");
    expect(model.networks.mtu!.mtu).toBe(1400);
    expect(model.networks.default).toBeUndefined();
    expect(model.secrets.pw).toEqual({ key: "pw", name: "demo_pw", file: "/srv/demo/pw.txt", external: false, labels: {} });
    expect(model.secrets.env!.environment).toBe("TOKEN");
    expect(model.configs.inline!.content).toBe("hello");
  });
});

describe("values left uninterpolated (config --no-interpolate)", () => {
  it("keeps a ${VAR} host port as written, leaves unreadable scalars out with a warning", () => {
    const { model, warnings } = normalizeStack(input({ services: { web: { image: "x", ports: ["${PORT}:80", "81:${TARGET}"], privileged: "${PRIV:-false}" } } }));
    expect(model.services.web!.ports).toEqual([{ target: 80, published: "${PORT}", protocol: "tcp", mode: "ingress" }]);
    expect(model.services.web!.privileged).toBe(false);
    expect(warnings).toEqual([
      'services.web.ports[1]: "81:${TARGET}" is not interpolated; left out of the model',
      'services.web.privileged: "${PRIV:-false}" is not interpolated; left out of the model',
    ]);
  });
});

describe("coverage of the schema", () => {
  it("every service key of the schema is normalized or warned about", () => {
    const keys = Object.keys(schema.properties.services.patternProperties["^[a-zA-Z0-9._-]+$"].properties);
    expect(keys.filter((k) => !normalizedKeys.has(k) && !notActedOn.has(k))).toEqual([]);
  });
});
