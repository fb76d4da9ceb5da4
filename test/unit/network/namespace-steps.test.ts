// The in-namespace lines of an attach as the perl helper's rtnetlink steps; anything else stays ip's.
import { describe, expect, it } from "vitest";
import { namespaceSteps } from "../../../src/network/namespace-steps.js";
import { planAttach } from "../../../src/network/link-plan.js";

describe("namespaceSteps", () => {
  const cases: Array<{ name: string; lines: string[]; expected: ReturnType<typeof namespaceSteps> }> = [
    { name: "an empty group", lines: [], expected: [] },
    { name: "lo up", lines: ["link set lo up"], expected: [{ kind: "up", ifname: "lo" }] },
    {
      name: "address, link up, default route",
      lines: ["addr add 172.30.0.2/24 dev eth0", "link set eth0 up", "route add default via 172.30.0.1"],
      expected: [
        { kind: "addr", ifname: "eth0", address: "172.30.0.2", prefix: 24 },
        { kind: "up", ifname: "eth0" },
        { kind: "route", gateway: "172.30.0.1" },
      ],
    },
    { name: "an interface_name with a dot and a dash", lines: ["link set my-if.1 up"], expected: [{ kind: "up", ifname: "my-if.1" }] },
    { name: "IPv6 (ip's)", lines: ["link set lo up", "addr add fd00::2/64 dev eth0 nodad"], expected: undefined },
    { name: "a route other than the default (ip's)", lines: ["route add 10.0.0.0/8 via 172.30.0.1"], expected: undefined },
    { name: "link down (ip's)", lines: ["link set eth0 down"], expected: undefined },
    { name: "an octet above 255 (ip's to reject)", lines: ["addr add 172.300.0.2/24 dev eth0"], expected: undefined },
    { name: "a prefix above 32 (ip's to reject)", lines: ["addr add 172.30.0.2/33 dev eth0"], expected: undefined },
    { name: "a gateway octet above 255", lines: ["route add default via 172.30.0.256"], expected: undefined },
    { name: "a name longer than 15 characters", lines: ["link set abcdefghijklmnop up"], expected: undefined },
    { name: "extra words", lines: ["addr add 172.30.0.2/24 dev eth0 nodad"], expected: undefined },
  ];
  for (const c of cases) it(c.name, () => expect(namespaceSteps(c.lines)).toEqual(c.expected));

  it("says every in-namespace line planAttach writes for an IPv4 container, with an MTU and a MAC", () => {
    const plan = planAttach({
      netns: "stack-p.web-1",
      createNetns: true,
      endpoints: [
        { bridge: "stk0", hostVeth: "stkv0", ifname: "eth0", address: "172.30.0.2", prefix: 24, mtu: 1400, macAddress: "02:42:ac:1e:00:02" },
        { bridge: "stk1", hostVeth: "stkv1", ifname: "eth1", address: "172.30.1.2", prefix: 24 },
      ],
      defaultGateway: "172.30.0.1",
    });
    const inside = plan.filter((c) => c.netns).map((c) => c.args.join(" "));
    expect(namespaceSteps(inside)).toEqual([
      { kind: "up", ifname: "lo" },
      { kind: "addr", ifname: "eth0", address: "172.30.0.2", prefix: 24 },
      { kind: "up", ifname: "eth0" },
      { kind: "addr", ifname: "eth1", address: "172.30.1.2", prefix: 24 },
      { kind: "up", ifname: "eth1" },
      { kind: "route", gateway: "172.30.0.1" },
    ]);
  });
});
