import { describe, expect, it } from "vitest";
import { allocateAddress, allocateIpv6Address, chooseSubnet, occupiedSubnets } from "../../../src/network/ipam.js";
import type { IpamConfigModel, NetworkModel } from "../../../src/schema/model.js";

function net(config: Array<Partial<IpamConfigModel>> = [], over: Partial<NetworkModel> = {}): NetworkModel {
  return { key: "front", name: "p_front", driver: "bridge", driver_opts: {}, external: false, internal: false, attachable: false, enable_ipv6: false, ipam: { config: config.map((c) => ({ aux_addresses: {}, ...c })), options: {} }, labels: {}, ...over };
}

describe("occupiedSubnets", () => {
  it("keeps routed IPv4 destinations and held subnets, drops default and IPv6", () => {
    expect(occupiedSubnets([{ dst: "default" }, { dst: "192.0.2.0/24" }, { dst: "10.1.2.3" }, { dst: "fe80::/64" }], ["172.30.0.0/24"])).toEqual(["10.1.2.3", "172.30.0.0/24", "192.0.2.0/24"]);
  });
});

describe("chooseSubnet", () => {
  it.each([
    { name: "first slice of the default pool", occupied: [], expected: { subnet: "172.30.0.0/24", gateway: "172.30.0.1", reserved: [] } },
    { name: "skips a routed subnet", occupied: ["172.30.0.0/24", "172.30.1.128/25"], expected: { subnet: "172.30.2.0/24", gateway: "172.30.2.1", reserved: [] } },
    { name: "skips a wider route covering the pool start", occupied: ["172.30.0.0/23"], expected: { subnet: "172.30.2.0/24", gateway: "172.30.2.1", reserved: [] } },
    { name: "a single routed address", occupied: ["172.30.0.9"], expected: { subnet: "172.30.1.0/24", gateway: "172.30.1.1", reserved: [] } },
  ])("$name", ({ occupied, expected }) => {
    expect(chooseSubnet(net(), occupied)).toEqual(expected);
  });

  it("honours subnet, gateway, ip_range and aux_addresses", () => {
    expect(chooseSubnet(net([{ subnet: "10.9.0.0/16", gateway: "10.9.0.254", ip_range: "10.9.5.0/24", aux_addresses: { router: "10.9.0.2", a: "10.9.0.3" } }]), ["192.0.2.0/24"])).toEqual({
      subnet: "10.9.0.0/16",
      gateway: "10.9.0.254",
      ipRange: "10.9.5.0/24",
      reserved: ["10.9.0.3", "10.9.0.2"],
    });
  });

  it("records an IPv6 subnet when enable_ipv6 is set", () => {
    expect(chooseSubnet(net([{ subnet: "fd00:5::/64" }], { enable_ipv6: true }), []).ipv6).toEqual({ subnet: "fd00:5::/64", gateway: "fd00:5::1" });
  });

  it("uses a configured pool", () => {
    expect(chooseSubnet(net(), ["10.50.0.0/28"], [{ base: "10.50.0.0/24", size: 28 }]).subnet).toBe("10.50.0.16/28");
  });

  it.each([
    { name: "not a subnet", config: { subnet: "10.0.0.0/33" }, message: 'networks.front.ipam.config[0].subnet: "10.0.0.0/33" is not an IPv4 subnet' },
    { name: "too small", config: { subnet: "10.0.0.0/31" }, message: "is too small for a network" },
    { name: "overlap", config: { subnet: "192.0.2.0/25" }, message: 'networks.front.ipam.config[0].subnet: "192.0.2.0/25" overlaps 192.0.2.0/24, which is already routed' },
    { name: "gateway outside", config: { subnet: "10.0.0.0/24", gateway: "10.0.1.1" }, message: 'networks.front.ipam.config[0].gateway: "10.0.1.1" is outside the subnet 10.0.0.0/24' },
    { name: "bad gateway", config: { subnet: "10.0.0.0/24", gateway: "x" }, message: '.gateway: "x" is not an IPv4 address' },
    { name: "range outside", config: { subnet: "10.0.0.0/24", ip_range: "10.0.0.0/16" }, message: '.ip_range: "10.0.0.0/16" is outside the subnet' },
    { name: "aux outside", config: { subnet: "10.0.0.0/24", aux_addresses: { r: "10.1.0.1" } }, message: '.aux_addresses.r: "10.1.0.1" is outside' },
  ])("refuses $name", ({ config, message }) => {
    expect(() => chooseSubnet(net([config]), ["192.0.2.0/24"])).toThrow(message);
  });

  it("reports an exhausted pool", () => {
    expect(() => chooseSubnet(net(), ["10.0.0.0/8"], [{ base: "10.0.0.0/16", size: 24 }])).toThrow("networks.front: no free subnet left in the address pools (10.0.0.0/16 split into /24)");
  });
});

describe("allocateAddress", () => {
  const base = { subnet: "172.30.0.0/24", gateway: "172.30.0.1", reserved: ["172.30.0.3"] };
  it.each([
    { name: "first free after the gateway", net: base, taken: [], requested: undefined, expected: "172.30.0.2" },
    { name: "skips taken and reserved", net: base, taken: ["172.30.0.2", "172.30.0.4"], requested: undefined, expected: "172.30.0.5" },
    { name: "a static address", net: base, taken: ["172.30.0.2"], requested: "172.30.0.77", expected: "172.30.0.77" },
    { name: "from the ip_range", net: { ...base, ipRange: "172.30.0.128/25" }, taken: ["172.30.0.128"], requested: undefined, expected: "172.30.0.129" },
    { name: "gateway inside the range is skipped", net: { subnet: "10.0.0.0/30", gateway: "10.0.0.1", reserved: [] }, taken: [], requested: undefined, expected: "10.0.0.2" },
  ])("$name", ({ net, taken, requested, expected }) => {
    expect(allocateAddress(net, taken, requested, "services.web.networks.front.ipv4_address")).toBe(expected);
  });

  it.each([
    { name: "static taken", taken: ["172.30.0.9"], requested: "172.30.0.9", message: 'services.web.networks.front.ipv4_address: "172.30.0.9" is already in use on 172.30.0.0/24' },
    { name: "static is the gateway", taken: [], requested: "172.30.0.1", message: "is already in use" },
    { name: "static is the broadcast", taken: [], requested: "172.30.0.255", message: "is already in use" },
    { name: "static outside", taken: [], requested: "10.0.0.9", message: '"10.0.0.9" is outside the subnet 172.30.0.0/24' },
  ])("refuses $name", ({ taken, requested, message }) => {
    expect(() => allocateAddress(base, taken, requested, "services.web.networks.front.ipv4_address")).toThrow(message);
  });

  it("reports a full network", () => {
    expect(() => allocateAddress({ subnet: "10.0.0.0/30", gateway: "10.0.0.1", reserved: [] }, ["10.0.0.2"], undefined, "services.web.networks.front")).toThrow("services.web.networks.front: no free address left in 10.0.0.0/30");
  });

  it("hands out IPv6 addresses after the gateway", () => {
    expect(allocateIpv6Address({ subnet: "fd00:5::/64", gateway: "fd00:5::1" }, ["fd00:5::2"], undefined)).toBe("fd00:5::3");
    expect(allocateIpv6Address({ subnet: "fd00:5::/64", gateway: "fd00:5::1" }, [], "fd00:5::99")).toBe("fd00:5::99");
  });
});
