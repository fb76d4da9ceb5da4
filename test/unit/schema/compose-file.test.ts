// composeFile: the model written back as a stack file (what `stack config`
// prints), and that file read again gives the same model.
import { describe, expect, it } from "vitest";
import { composeFile, formatDuration } from "../../../src/schema/compose-file.js";
import { interpolateFile } from "../../../src/schema/interpolate.js";
import { parseDuration } from "../../../src/schema/normalize/units.js";
import { normalizeStack } from "../../../src/schema/normalize.js";
import { renderModel } from "../../../src/schema/render.js";
import { validateFile } from "../../../src/schema/validate.js";
import { parseYamlFile } from "../../../src/schema/yaml-file.js";
import type { StackModel } from "../../../src/schema/model.js";
import { makeService, makeStack } from "../../helpers/model.js";

function load(text: string, env: Record<string, string> = {}): StackModel {
  const file = parseYamlFile(text, "compose.yaml");
  expect(validateFile(file)).toEqual([]);
  const { doc } = interpolateFile(file, (name) => env[name]);
  return normalizeStack({ name: "demo", projectDir: "/srv/demo", files: ["/srv/demo/compose.yaml"], profiles: [], doc, env, readEnvFile: () => undefined }).model;
}

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [1, "1ms"],
    [250, "250ms"],
    [1000, "1s"],
    [1500, "1s500ms"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [3_605_000, "1h5s"],
    [86_400_000, "24h"],
  ])("%d ms → %s, which reads back as the same", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe("composeFile", () => {
  const model = makeStack(
    [
      makeService("web", {
        extensions: { "x-team": "core" },
        extra_hosts: [
          { host: "gw", ip: "10.0.0.1" },
          { host: "v6", ip: "::1" },
        ],
        links: [
          { service: "db", alias: "db" },
          { service: "db", alias: "database" },
        ],
        volumes_from: [
          { kind: "service", name: "db", read_only: false },
          { kind: "container", name: "other", read_only: true },
        ],
        healthcheck: { test: ["CMD", "true"], interval: 90_000, timeout: 1500, retries: 3, start_period: 0, start_interval: 5000, disable: false },
        stop_grace_period: 100,
        deploy: { labels: {}, resources: { limits: {}, reservations: {} }, restart_policy: { condition: "on-failure", delay: 2000, window: 60_000 } },
      }),
      makeService("db"),
    ],
    {
      extensions: { "x-shared": { a: 1 } },
      profiles: ["dev"],
      disabled_services: { dbg: makeService("dbg", { profiles: ["debug"] }) },
      volumes: { data: { key: "data", name: "demo_data", driver: "local", driver_opts: {}, external: false, labels: {} } },
    },
  );
  const file = composeFile(model);
  const web = (file.services as Record<string, Record<string, unknown>>).web!;

  it("leaves out what a stack file has no key for, and the services the profiles left out", () => {
    expect(Object.keys(file).sort()).toEqual(["configs", "name", "networks", "secrets", "services", "volumes", "x-shared"]);
    expect(Object.keys(file.services as object).sort()).toEqual(["db", "web"]);
    expect(web).not.toHaveProperty("name");
    expect(web).not.toHaveProperty("extensions");
    expect((file.networks as Record<string, object>).default).not.toHaveProperty("key");
    expect((file.volumes as Record<string, object>).data).toEqual({ name: "demo_data", driver: "local", driver_opts: {}, external: false, labels: {} });
  });

  it("puts x- extensions back where they were written", () => {
    expect(file["x-shared"]).toEqual({ a: 1 });
    expect(web["x-team"]).toBe("core");
  });

  it("writes durations, hosts, links and volumes_from as a stack file spells them", () => {
    expect(web.healthcheck).toEqual({ test: ["CMD", "true"], interval: "1m30s", timeout: "1s500ms", retries: 3, start_period: "0s", start_interval: "5s", disable: false });
    expect(web.stop_grace_period).toBe("100ms");
    expect((web.deploy as { restart_policy: unknown }).restart_policy).toEqual({ condition: "on-failure", delay: "2s", window: "1m" });
    expect(web.extra_hosts).toEqual(["gw=10.0.0.1", "v6=::1"]);
    expect(web.links).toEqual(["db", "db:database"]);
    expect(web.volumes_from).toEqual(["db", "container:other:ro"]);
  });

  it("writes each $ of a value as $$ after interpolation, and leaves keys and --no-interpolate values alone", () => {
    const withDollars = makeStack([makeService("web", { command: ["sh", "-c", "echo $HOME"], environment: { PRICE: "5$", PLAIN: "x" }, labels: { "a$b": "c" } })]);
    const escaped = (composeFile(withDollars).services as Record<string, Record<string, unknown>>).web!;
    expect(escaped.command).toEqual(["sh", "-c", "echo $$HOME"]);
    expect(escaped.environment).toEqual({ PRICE: "5$$", PLAIN: "x" });
    expect(escaped.labels).toEqual({ "a$b": "c" });
    expect(escaped.ports).toBe(withDollars.services.web!.ports); // nothing to escape: not copied
    const raw = (composeFile(withDollars, false).services as Record<string, Record<string, unknown>>).web!;
    expect(raw.command).toEqual(["sh", "-c", "echo $HOME"]);
    expect(withDollars.services.web!.command).toEqual(["sh", "-c", "echo $HOME"]);
  });

  it("does not change the model it is given", () => {
    expect(model.services.web!.healthcheck!.interval).toBe(90_000);
    expect(model.services.web!.extensions).toEqual({ "x-team": "core" });
    expect(model.networks.default!.key).toBe("default");
  });

  it("is read back to the same model", () => {
    const text = `
x-shared: {a: 1}
services:
  web:
    image: nginx
    x-team: core
    build: {context: ., extra_hosts: ["gw:10.0.0.1"]}
    ports: ["127.0.0.1:8080:80", "9000-9001:9000-9001/udp"]
    extra_hosts: {gw: 10.0.0.1, v6: "::1"}
    links: [db, "db:database"]
    volumes_from: [db, "container:other:ro"]
    healthcheck: {test: curl -f http://localhost, interval: 1m30s, timeout: 1.5s, start_period: 250ms}
    stop_grace_period: 1h5s
    deploy: {restart_policy: {condition: on-failure, delay: 2s, window: 1m}}
    secrets: [{source: token, mode: 0400}]
    depends_on: {db: {condition: service_healthy, restart: true}}
    environment: {LITERAL: $$HOME, FROM_VAR: $TOKEN_NAME}
    post_start: [{command: "chown -R 1000 /data", user: root}, {command: [sh, -c, "echo $$X"], privileged: true, environment: {X: "1"}}]
    pre_stop: [{command: ./flush.sh, working_dir: /app}]
  db:
    image: postgres:16
    volumes: [data:/var/lib/postgresql/data, ./init:/docker-entrypoint-initdb.d:ro]
    networks: {back: {aliases: [database]}}
networks:
  back: {internal: true}
volumes:
  data:
secrets:
  token: {environment: TOKEN}
`;
    const env = { TOKEN_NAME: "tok$en", HOME: "/home/dev" };
    const first = load(text, env);
    expect(first.services.web!.environment).toEqual({ LITERAL: "$HOME", FROM_VAR: "tok$en" });
    const again = load(renderModel(first, "yaml"), env);
    expect(again).toEqual(first);
    expect(renderModel(again, "yaml")).toBe(renderModel(first, "yaml"));
  });
});
