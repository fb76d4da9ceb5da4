import { describe, expect, it } from "vitest";
import { checkStack } from "../../../src/schema/semantics.js";
import { formatProblem } from "../../../src/schema/source.js";
import type { StackModel } from "../../../src/schema/model.js";
import { dep, makeService, makeStack } from "../../helpers/model.js";

const tcp = (published: string, target: number, host_ip?: string) => ({ target, published, protocol: "tcp" as const, mode: "ingress" as const, ...(host_ip ? { host_ip } : {}) });

const cases: Array<{ name: string; model: StackModel; expected: string[] }> = [
  { name: "a valid stack", model: makeStack([makeService("web", { depends_on: { db: dep() } }), makeService("db")]), expected: [] },
  {
    name: "unknown service in depends_on, with a suggestion",
    model: makeStack([makeService("web", { depends_on: { dbb: dep() } }), makeService("db")]),
    expected: ['services.web.depends_on.dbb: undefined service "dbb" (did you mean "db"?)'],
  },
  { name: "optional dependency may be missing", model: makeStack([makeService("web", { depends_on: { cache: dep("service_started", { required: false }) } })]), expected: [] },
  {
    name: "links, volumes_from, network_mode service:",
    model: makeStack([
      makeService("web", { links: [{ service: "nope", alias: "x" }], volumes_from: [{ kind: "service", name: "gone", read_only: false }, { kind: "container", name: "outside", read_only: false }], network_mode: "service:vpn", networks: {} }),
    ]),
    expected: [
      'services.web.links[0]: undefined service "nope" (defined services: web)',
      'services.web.volumes_from[0]: undefined service "gone" (defined services: web)',
      'services.web.network_mode: undefined service "vpn" (defined services: web)',
    ],
  },
  {
    name: "undefined network, volume, secret, config",
    model: makeStack(
      [
        makeService("web", {
          networks: { frontend: { aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} } },
          volumes: [{ type: "volume", source: "dta", target: "/d", read_only: false, volume: { nocopy: false } }],
          secrets: [{ source: "pw", target: "/run/secrets/pw" }],
          configs: [{ source: "conf", target: "/conf" }],
        }),
      ],
      { volumes: { data: { key: "data", name: "demo_data", driver: "local", driver_opts: {}, external: false, labels: {} } } },
    ),
    expected: [
      'services.web.networks.frontend: undefined network "frontend" (defined networks: default)',
      'services.web.volumes[0]: undefined volume "dta" (did you mean "data"?)',
      "services.web.secrets[0]: undefined secret \"pw\" (define it under the top-level `secrets:`)",
      "services.web.configs[0]: undefined config \"conf\" (define it under the top-level `configs:`)",
    ],
  },
  {
    name: "host port conflicts: same port and protocol, wildcard overlaps a specific address",
    model: makeStack([
      makeService("a", { ports: [tcp("8080", 80), { ...tcp("53", 53), protocol: "udp" }] }),
      makeService("b", { ports: [tcp("8080", 8080, "127.0.0.1"), tcp("53", 53)] }),
      makeService("c", { ports: [tcp("9000", 80, "127.0.0.1"), tcp("9000-9010", 81)] }),
      makeService("d", { ports: [tcp("9000", 80, "127.0.0.2")] }),
    ]),
    expected: ['services.b.ports: host port "127.0.0.1:8080/tcp" is also published by service "a" (publish a different host port, or leave the host port out to get a free one)'],
  },
  {
    name: "network_mode excludes networks",
    model: makeStack([makeService("web", { network_mode: "host" })]),
    expected: ['services.web.network_mode: network_mode "host" cannot be combined with networks (default) (remove one of them)'],
  },
  {
    name: "names left uninterpolated (--no-interpolate) are not judged",
    model: makeStack([makeService("web", { depends_on: { "${DEP}": dep() }, volumes: [{ type: "volume", source: "${DATA}", target: "/d", read_only: false, volume: { nocopy: false } }] })]),
    expected: [],
  },
  {
    name: "a service needs an image or a build",
    model: makeStack([makeService("web", { image: undefined })]),
    expected: ["services.web: has neither an image nor a build context (add `image: NAME[:TAG]` or `build: ./DIR`)"],
  },
  {
    name: "a third service on a taken port names the first one that took it; another protocol or address does not clash",
    model: makeStack([
      makeService("c", { ports: [tcp("7000", 80)] }),
      makeService("a", { ports: [tcp("7000", 80, "10.0.0.1")] }),
      makeService("b", { ports: [tcp("7000", 80, "10.0.0.2"), { ...tcp("7000", 80), protocol: "udp" }] }),
    ]),
    expected: ['services.c.ports: host port "7000/tcp" is also published by service "a" (publish a different host port, or leave the host port out to get a free one)'],
  },
  {
    name: "alternatives in inactive profiles may share a host port and a container name",
    model: makeStack([
      makeService("web", { ports: [tcp("8080", 80)], container_name: "web" }),
      makeService("web-debug", { ports: [tcp("8080", 80)], container_name: "web", profiles: ["debug"] }),
    ]),
    expected: [],
  },
  {
    name: "... but not when the profile is active",
    model: makeStack([makeService("web", { ports: [tcp("8080", 80)] }), makeService("web-debug", { ports: [tcp("8080", 80)], profiles: ["debug"] })], { profiles: ["debug"] }),
    expected: ['services.web-debug.ports: host port "8080/tcp" is also published by service "web" (publish a different host port, or leave the host port out to get a free one)'],
  },
  {
    name: "duplicate container_name and container_name with replicas",
    model: makeStack([makeService("a", { container_name: "app" }), makeService("b", { container_name: "app" }), makeService("c", { container_name: "solo", scale: 2 })]),
    expected: [
      'services.b.container_name: container name "app" is also used by service "a" (container names must be unique; remove container_name to get <project>-<service>-N)',
      'services.c.container_name: container name "solo" cannot be shared by 2 replicas (remove container_name, or set scale to 1)',
    ],
  },
];

describe("checkStack", () => {
  it.each(cases)("$name", ({ model, expected }) => {
    expect(checkStack(model).map(formatProblem)).toEqual(expected);
  });

  it("locates problems through the given locator", () => {
    const model = makeStack([makeService("web", { depends_on: { x: dep() } })]);
    const [p] = checkStack(model, (path) => ({ file: "compose.yaml", line: path.length, col: 3 }));
    expect(formatProblem(p!)).toBe('compose.yaml:4:3: services.web.depends_on.x: undefined service "x" (defined services: web)');
  });
});
