import { describe, expect, it } from "vitest";
import { buildDnsZones, dnsListenAddresses } from "../../../src/network/dns-records.js";
import type { ProjectNetworkState } from "../../../src/network/network-state.js";

const netRec = (name: string, subnet: string, gateway: string, external = false) => ({ key: name, name, bridge: `stk-${name}`, subnet, gateway, reserved: [], internal: false, external, labels: {}, driverOpts: {} });
const ep = (network: string, address: string, aliases: string[] = []) => ({ network, bridge: `stk-${network}`, hostVeth: "stkv", ifname: "eth0", address, aliases });

const state: ProjectNetworkState = {
  version: 1,
  project: "p",
  networks: { p_front: netRec("p_front", "172.30.0.0/24", "172.30.0.1"), p_back: netRec("p_back", "172.30.1.0/24", "172.30.1.1"), shared: netRec("shared", "172.30.2.0/24", "172.30.2.1", true) },
  containers: {
    "p-web-1": { container: "p-web-1", service: "web", netns: "stack-p-web-1", ownsNetns: true, endpoints: [ep("p_front", "172.30.0.2", ["www"])], links: [{ service: "db", alias: "database" }] },
    "p-db-1": { container: "p-db-1", service: "db", netns: "stack-p-db-1", ownsNetns: true, endpoints: [ep("p_front", "172.30.0.3"), ep("p_back", "172.30.1.2")], links: [] },
    "p-web-2": { container: "p-web-2", service: "web", netns: "stack-p-web-2", ownsNetns: true, endpoints: [ep("p_front", "172.30.0.4", ["www"])], links: [] },
  },
  ports: [],
};

describe("buildDnsZones", () => {
  it("names services (all replicas), containers, aliases and link aliases per network", () => {
    expect(buildDnsZones([state])).toEqual([
      { network: "p_back", subnet: "172.30.1.0/24", names: { db: ["172.30.1.2"], "p-db-1": ["172.30.1.2"] } },
      {
        network: "p_front",
        subnet: "172.30.0.0/24",
        names: { web: ["172.30.0.2", "172.30.0.4"], "p-web-1": ["172.30.0.2"], "p-web-2": ["172.30.0.4"], www: ["172.30.0.2", "172.30.0.4"], db: ["172.30.0.3"], "p-db-1": ["172.30.0.3"], database: ["172.30.0.3"] },
      },
      { network: "shared", subnet: "172.30.2.0/24", names: {} },
    ]);
  });

  it("listens on the gateways of the project's own networks", () => {
    expect(dnsListenAddresses(state)).toEqual([
      { address: "172.30.1.1", port: 53 },
      { address: "172.30.0.1", port: 53 },
    ]);
  });
});
