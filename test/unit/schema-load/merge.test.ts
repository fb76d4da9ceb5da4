import { describe, expect, it } from "vitest";
import { mergeDocuments, mergeServiceDefinitions, portIdentity, volumeTarget } from "../../../src/schema/merge.js";
import { parseYamlFile } from "../../../src/schema/yaml-file.js";

type Doc = Record<string, unknown>;
const svc = (s: Doc): Doc => ({ services: { web: s } });

describe("mergeDocuments: one rule per case", () => {
  const cases: Array<{ name: string; base: Doc; over: Doc; expected: Doc }> = [
    { name: "scalar replaces", base: svc({ image: "a" }), over: svc({ image: "b" }), expected: svc({ image: "b" }) },
    { name: "new keys are added", base: svc({ image: "a" }), over: svc({ restart: "always" }), expected: svc({ image: "a", restart: "always" }) },
    { name: "new services are added", base: { services: { a: { image: "a" } } }, over: { services: { b: { image: "b" } } }, expected: { services: { a: { image: "a" }, b: { image: "b" } } } },
    { name: "mappings merge recursively", base: svc({ deploy: { resources: { limits: { cpus: "1" } } } }), over: svc({ deploy: { resources: { limits: { memory: "1g" } } } }), expected: svc({ deploy: { resources: { limits: { cpus: "1", memory: "1g" } } } }) },
    { name: "command replaces", base: svc({ command: ["a", "b"] }), over: svc({ command: ["c"] }), expected: svc({ command: ["c"] }) },
    { name: "entrypoint replaces", base: svc({ entrypoint: ["sh", "-c"] }), over: svc({ entrypoint: "run" }), expected: svc({ entrypoint: "run" }) },
    { name: "healthcheck.test replaces, other healthcheck keys merge", base: svc({ healthcheck: { test: ["CMD", "a"], interval: "5s" } }), over: svc({ healthcheck: { test: ["CMD", "b"] } }), expected: svc({ healthcheck: { test: ["CMD", "b"], interval: "5s" } }) },
    { name: "environment list + map merge as a map", base: svc({ environment: ["A=1", "B=2", "C"] }), over: svc({ environment: { B: "3", D: "4" } }), expected: svc({ environment: { A: "1", B: "3", C: null, D: "4" } }) },
    { name: "labels list + list", base: svc({ labels: ["a=1"] }), over: svc({ labels: ["a=2", "b=3"] }), expected: svc({ labels: { a: "2", b: "3" } }) },
    { name: "extra_hosts host:ip and host=ip", base: svc({ extra_hosts: ["db:10.0.0.1", "x=1.1.1.1"] }), over: svc({ extra_hosts: { db: "10.0.0.2" } }), expected: svc({ extra_hosts: { db: "10.0.0.2", x: "1.1.1.1" } }) },
    { name: "sysctls as maps", base: svc({ sysctls: { "net.core.somaxconn": 1024 } }), over: svc({ sysctls: ["net.ipv4.tcp_syncookies=0"] }), expected: svc({ sysctls: { "net.core.somaxconn": 1024, "net.ipv4.tcp_syncookies": "0" } }) },
    { name: "build.args as maps", base: svc({ build: { context: ".", args: ["A=1"] } }), over: svc({ build: { args: { B: "2" } } }), expected: svc({ build: { context: ".", args: { A: "1", B: "2" } } }) },
    { name: "build string + mapping", base: svc({ build: "./app" }), over: svc({ build: { target: "dev" } }), expected: svc({ build: { context: "./app", target: "dev" } }) },
    { name: "ulimits single number replaces", base: svc({ ulimits: { nofile: { soft: 1, hard: 2 } } }), over: svc({ ulimits: { nofile: 5 } }), expected: svc({ ulimits: { nofile: 5 } }) },
    { name: "ulimits mappings merge", base: svc({ ulimits: { nofile: { soft: 1, hard: 2 } } }), over: svc({ ulimits: { nofile: { hard: 9 }, nproc: 3 } }), expected: svc({ ulimits: { nofile: { soft: 1, hard: 9 }, nproc: 3 } }) },
    { name: "logging with another driver replaces", base: svc({ logging: { driver: "json-file", options: { a: "1" } } }), over: svc({ logging: { driver: "syslog" } }), expected: svc({ logging: { driver: "syslog" } }) },
    { name: "logging with the same driver merges options", base: svc({ logging: { driver: "json-file", options: { a: "1" } } }), over: svc({ logging: { options: { b: "2" } } }), expected: svc({ logging: { driver: "json-file", options: { a: "1", b: "2" } } }) },
    { name: "depends_on list + map", base: svc({ depends_on: ["db", "cache"] }), over: svc({ depends_on: { db: { condition: "service_healthy" } } }), expected: svc({ depends_on: { db: { condition: "service_healthy" }, cache: null } }) },
    { name: "service networks list + map keeps definitions", base: svc({ networks: { front: { aliases: ["w"] } } }), over: svc({ networks: ["front", "back"] }), expected: svc({ networks: { front: { aliases: ["w"] }, back: null } }) },
    {
      name: "ports merge by ip+published+target+protocol",
      base: svc({ ports: ["80:80", "443:443", "53:53/udp", { target: 9000, published: "9000" }] }),
      over: svc({ ports: ["80:80", "53:53/tcp", "127.0.0.1:8080:80", { target: 9000, published: "9000", protocol: "tcp", mode: "host" }] }),
      expected: svc({ ports: ["80:80", "443:443", "53:53/udp", { target: 9000, published: "9000", protocol: "tcp", mode: "host" }, "53:53/tcp", "127.0.0.1:8080:80"] }),
    },
    {
      name: "volumes merge by target",
      base: svc({ volumes: ["./a:/data", "logs:/var/log", "/anon"] }),
      over: svc({ volumes: ["./b:/data:ro", { type: "volume", source: "cache", target: "/cache" }, "/anon"] }),
      expected: svc({ volumes: ["./b:/data:ro", "logs:/var/log", "/anon", { type: "volume", source: "cache", target: "/cache" }] }),
    },
    { name: "tmpfs merge by target (string + list)", base: svc({ tmpfs: "/run" }), over: svc({ tmpfs: ["/run:size=1m", "/tmp"] }), expected: svc({ tmpfs: ["/run:size=1m", "/tmp"] }) },
    {
      name: "secrets merge by target, else source",
      base: svc({ secrets: ["db_pw", { source: "key", target: "/k" }] }),
      over: svc({ secrets: [{ source: "db_pw", mode: 0o400 }, { source: "other", target: "/k" }, "api"] }),
      expected: svc({ secrets: [{ source: "db_pw", mode: 0o400 }, { source: "other", target: "/k" }, "api"] }),
    },
    { name: "configs merge the same way", base: svc({ configs: ["a"] }), over: svc({ configs: ["a", "b"] }), expected: svc({ configs: ["a", "b"] }) },
    { name: "env_file merges by path", base: svc({ env_file: ".env" }), over: svc({ env_file: [{ path: ".env", required: false }, "b.env"] }), expected: svc({ env_file: [{ path: ".env", required: false }, "b.env"] }) },
    { name: "dns is a union without duplicates (string + list)", base: svc({ dns: "8.8.8.8" }), over: svc({ dns: ["8.8.8.8", "1.1.1.1"] }), expected: svc({ dns: ["8.8.8.8", "1.1.1.1"] }) },
    { name: "cap_add union", base: svc({ cap_add: ["NET_ADMIN"] }), over: svc({ cap_add: ["SYS_TIME", "NET_ADMIN"] }), expected: svc({ cap_add: ["NET_ADMIN", "SYS_TIME"] }) },
    { name: "expose union", base: svc({ expose: ["80"] }), over: svc({ expose: ["80", "81"] }), expected: svc({ expose: ["80", "81"] }) },
    { name: "profiles union", base: svc({ profiles: ["dev"] }), over: svc({ profiles: ["debug"] }), expected: svc({ profiles: ["dev", "debug"] }) },
    { name: "other lists: union of distinct values", base: { "x-list": [1, { a: 1 }] }, over: { "x-list": [{ a: 1 }, 2] }, expected: { "x-list": [1, { a: 1 }, 2] } },
    { name: "a service key with no value keeps the earlier definition", base: { volumes: { data: { driver: "local" } } }, over: { volumes: { data: null } }, expected: { volumes: { data: { driver: "local" } } } },
    { name: "a null value keeps an earlier mapping", base: svc({ healthcheck: { disable: true } }), over: svc({ healthcheck: null }), expected: svc({ healthcheck: { disable: true } }) },
    { name: "a change of type replaces", base: svc({ "x-opt": { a: 1 } }), over: svc({ "x-opt": "plain" }), expected: svc({ "x-opt": "plain" }) },
    { name: "top-level networks merge", base: { networks: { n: { driver: "bridge" } } }, over: { networks: { n: { internal: true } } }, expected: { networks: { n: { driver: "bridge", internal: true } } } },
  ];
  it.each(cases)("$name", ({ base, over, expected }) => {
    const baseCopy = structuredClone(base);
    expect(mergeDocuments(base, over)).toEqual(expected);
    expect(base).toEqual(baseCopy); // inputs are not changed
  });
});

describe("!reset and !override", () => {
  const base = svc({ image: "app", ports: ["80:80"], environment: { A: "1", B: "2" }, command: ["x"], labels: { l: "1" } });
  const cases: Array<{ name: string; override: string; expected: Doc }> = [
    { name: "!reset removes a list", override: "services:\n  web:\n    ports: !reset []\n", expected: svc({ image: "app", environment: { A: "1", B: "2" }, command: ["x"], labels: { l: "1" } }) },
    { name: "!reset removes a value", override: "services:\n  web:\n    command: !reset null\n", expected: svc({ image: "app", ports: ["80:80"], environment: { A: "1", B: "2" }, labels: { l: "1" } }) },
    { name: "!reset removes one map key", override: "services:\n  web:\n    environment:\n      A: !reset null\n", expected: svc({ image: "app", ports: ["80:80"], environment: { B: "2" }, command: ["x"], labels: { l: "1" } }) },
    { name: "!override replaces a list instead of merging", override: "services:\n  web:\n    ports: !override ['8080:80']\n", expected: svc({ image: "app", ports: ["8080:80"], environment: { A: "1", B: "2" }, command: ["x"], labels: { l: "1" } }) },
    { name: "!override replaces a map", override: "services:\n  web:\n    environment: !override\n      C: '3'\n", expected: svc({ image: "app", ports: ["80:80"], environment: { C: "3" }, command: ["x"], labels: { l: "1" } }) },
    { name: "!reset of a whole service", override: "services:\n  web: !reset {}\n", expected: { services: {} } },
  ];
  it.each(cases)("$name", ({ override, expected }) => {
    const f = parseYamlFile(override, "o.yaml");
    expect(mergeDocuments(base, f.doc, f)).toEqual(expected);
  });

  it("extends: tags of the extending service apply to its base", () => {
    const f = parseYamlFile("services:\n  web:\n    ports: !override ['1:1']\n    labels: !reset {}\n", "o.yaml");
    const merged = mergeServiceDefinitions("web", { ports: ["2:2"], labels: { a: "b" }, image: "i" }, (f.doc.services as Doc).web as Doc, f);
    expect(merged).toEqual({ ports: ["1:1"], image: "i" });
  });
});

describe("identity keys", () => {
  const ports: Array<[unknown, string | undefined]> = [
    [80, "|||80|tcp"],
    ["80", "||80|tcp"],
    ["8080:80", "|8080|80|tcp"],
    ["127.0.0.1:8080:80/udp", "127.0.0.1|8080|80|udp"],
    ["[::1]:8080:80", "::1|8080|80|tcp"],
    ["127.0.0.1::80", "127.0.0.1||80|tcp"],
    [{ target: 80, published: 8080, host_ip: "0.0.0.0", protocol: "udp" }, "0.0.0.0|8080|80|udp"],
    [true, undefined],
  ];
  it.each(ports)("port %j → %s", (p, key) => expect(portIdentity(p)).toBe(key));

  const volumes: Array<[unknown, string | undefined]> = [
    ["/data", "/data"],
    ["./src:/app:ro", "/app"],
    ["named:/var/lib/x", "/var/lib/x"],
    [{ type: "bind", source: ".", target: "/w" }, "/w"],
    [{ type: "tmpfs" }, undefined],
  ];
  it.each(volumes)("volume %j → %s", (v, key) => expect(volumeTarget(v)).toBe(key));
});
