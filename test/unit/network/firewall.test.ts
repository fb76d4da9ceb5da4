import { describe, expect, it } from "vitest";
import { hostForwardChain, planHostForwardRules, renderStackTable } from "../../../src/network/firewall.js";

describe("renderStackTable", () => {
  it("deletes the table when no bridge is left", () => {
    expect(renderStackTable([], [])).toBe("table ip stack\ndelete table ip stack\n");
  });

  it("renders isolation, internal, NAT and DNAT rules (sorted by bridge and port)", () => {
    const script = renderStackTable(
      [
        { bridge: "stkb", subnet: "172.30.1.0/24", internal: true },
        { bridge: "stka", subnet: "172.30.0.0/24", internal: false },
      ],
      [
        { hostPort: 8080, protocol: "tcp", containerAddress: "172.30.0.2", containerPort: 80 },
        { hostIp: "127.0.0.1", hostPort: 53, protocol: "udp", containerAddress: "172.30.0.3", containerPort: 5353 },
      ],
    );
    expect(script).toBe(
      [
        "table ip stack",
        "delete table ip stack",
        "table ip stack {",
        "  chain forward {",
        "    type filter hook forward priority 0; policy accept;",
        '    iifname "stka" oifname "stkb" drop',
        '    iifname "stkb" oifname "stka" drop',
        '    iifname "stkb" oifname != "stkb" drop',
        '    oifname "stkb" iifname != "stkb" drop',
        '    iifname { "stka", "stkb" } accept',
        '    oifname { "stka", "stkb" } accept',
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority 100; policy accept;",
        '    oifname != "stka" ip saddr 172.30.0.0/24 masquerade',
        '    oifname { "stka", "stkb" } ip saddr 127.0.0.0/8 masquerade',
        "  }",
        "  chain prerouting {",
        "    type nat hook prerouting priority -100; policy accept;",
        "    fib daddr type local jump published",
        "  }",
        "  chain output {",
        "    type nat hook output priority -100; policy accept;",
        "    fib daddr type local jump published",
        "  }",
        "  chain published {",
        "    ip daddr 127.0.0.1 udp dport 53 dnat to 172.30.0.3:5353",
        "    tcp dport 8080 dnat to 172.30.0.2:80",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  });
});

describe("host forward filter", () => {
  it.each([
    { name: "clean host", filter: { forwardPolicy: "ACCEPT", dockerUserExists: false, stackRules: [] }, expected: undefined },
    { name: "no filter table", filter: { dockerUserExists: false, stackRules: [] }, expected: undefined },
    { name: "FORWARD drop", filter: { forwardPolicy: "DROP", dockerUserExists: false, stackRules: [] }, expected: "FORWARD" },
    { name: "Docker installed", filter: { forwardPolicy: "DROP", dockerUserExists: true, stackRules: [] }, expected: "DOCKER-USER" },
  ])("chain on a $name", ({ filter, expected }) => {
    expect(hostForwardChain(filter)).toBe(expected);
  });

  it("adds missing accepts and removes stale ones", () => {
    const filter = { forwardPolicy: "DROP", dockerUserExists: false, stackRules: ["-A FORWARD -i stkold -m comment --comment stack -j ACCEPT", "-A FORWARD -i stka -m comment --comment stack -j ACCEPT"] };
    expect(planHostForwardRules(filter, ["stka"])).toEqual([
      ["-D", "FORWARD", "-i", "stkold", "-m", "comment", "--comment", "stack", "-j", "ACCEPT"],
      ["-I", "FORWARD", "1", "-o", "stka", "-m", "comment", "--comment", "stack", "-j", "ACCEPT"],
    ]);
  });

  it("removes every accept once the filter no longer drops", () => {
    const filter = { forwardPolicy: "ACCEPT", dockerUserExists: false, stackRules: ["-A FORWARD -o stka -m comment --comment stack -j ACCEPT"] };
    expect(planHostForwardRules(filter, ["stka"])).toEqual([["-D", "FORWARD", "-o", "stka", "-m", "comment", "--comment", "stack", "-j", "ACCEPT"]]);
  });
});
