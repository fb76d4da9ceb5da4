import { describe, expect, it, test } from "vitest";
import { attachRequestFor, networksUsedBy, sharedNamespaceOf } from "../../../src/network/service-networks.js";
import { makeService, makeStack } from "../../helpers/model.js";

const back = { key: "back", name: "demo_back", driver: "bridge", driver_opts: {}, external: false, internal: true, attachable: false, enable_ipv6: false, ipam: { config: [], options: {} }, labels: {} };
const sn = { aliases: [], link_local_ips: [], priority: 0, gw_priority: 0, driver_opts: {} };

describe("networksUsedBy", () => {
  const model = makeStack(
    [makeService("web"), makeService("db", { networks: { back: sn, default: sn } }), makeService("tool", { network_mode: "host" }), makeService("side", { network_mode: "service:web", networks: { back: sn } })],
    {},
  );
  model.networks.back = back;
  it.each([
    { services: ["web"], expected: ["default"] },
    { services: ["db", "web"], expected: ["back", "default"] },
    { services: ["tool", "side"], expected: [] },
  ])("$services", ({ services, expected }) => {
    expect(networksUsedBy(model, services).map((n) => n.key)).toEqual(expected);
  });
});

describe("attachRequestFor", () => {
  it("carries the service's network settings", () => {
    const s = makeService("web", { hostname: "w", mac_address: "02:00:00:00:00:09", dns: ["9.9.9.9"], extra_hosts: [{ host: "h", ip: "10.0.0.1" }], links: [{ service: "db", alias: "database" }] });
    expect(attachRequestFor(s, "demo-web-1")).toEqual({
      container: "demo-web-1",
      service: "web",
      networks: s.networks,
      hostname: "w",
      macAddress: "02:00:00:00:00:09",
      extraHosts: [{ host: "h", ip: "10.0.0.1" }],
      dns: ["9.9.9.9"],
      dnsSearch: [],
      dnsOpt: [],
      links: [{ service: "db", alias: "database" }],
    });
    expect(attachRequestFor(makeService("t", { network_mode: "none" }), "demo-t-1")).toMatchObject({ networkMode: "none", networks: {} });
  });
});

test("sharedNamespaceOf: service:NAME and container:NAME, nothing for other modes", () => {
  expect(sharedNamespaceOf("service:db")).toEqual({ kind: "service", target: "db" });
  expect(sharedNamespaceOf("container:proj-db-1")).toEqual({ kind: "container", target: "proj-db-1" });
  for (const m of [undefined, "none", "host", "bridge", "service:", "svc:db"]) expect(sharedNamespaceOf(m)).toBeUndefined();
});
