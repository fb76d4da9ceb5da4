import { describe, expect, it } from "vitest";
import { hostForwardChain, planHostForwardRules, planStackTable } from "../../../src/network/firewall.js";

describe("planStackTable", () => {
  const bridges = [
    { bridge: "stkb", subnet: "172.30.1.0/24", internal: true },
    { bridge: "stka", subnet: "172.30.0.0/24", internal: false },
  ];
  const dnat = [
    { hostPort: 8080, protocol: "tcp" as const, containerAddress: "172.30.0.2", containerPort: 80 },
    { hostIp: "127.0.0.1", hostPort: 53, protocol: "udp" as const, containerAddress: "172.30.0.3", containerPort: 5353 },
  ];

  it("creates the table, the owner's chains and the jumps to them", () => {
    expect(planStackTable("o1", bridges, dnat, undefined)).toBe(
      [
        "add table ip stack",
        "add chain ip stack forward { type filter hook forward priority 0; policy accept; }",
        "add chain ip stack postrouting { type nat hook postrouting priority 100; policy accept; }",
        "add chain ip stack prerouting { type nat hook prerouting priority -100; policy accept; }",
        "add chain ip stack output { type nat hook output priority -100; policy accept; }",
        "add chain ip stack forward_o1",
        "flush chain ip stack forward_o1",
        "add chain ip stack postrouting_o1",
        "flush chain ip stack postrouting_o1",
        "add chain ip stack published_o1",
        "flush chain ip stack published_o1",
        'add rule ip stack forward_o1 iifname "stka" oifname != "stka" oifname "stk*" drop',
        'add rule ip stack forward_o1 oifname "stka" iifname != "stka" iifname "stk*" drop',
        'add rule ip stack forward_o1 iifname "stkb" oifname != "stkb" oifname "stk*" drop',
        'add rule ip stack forward_o1 oifname "stkb" iifname != "stkb" iifname "stk*" drop',
        'add rule ip stack forward_o1 iifname "stkb" oifname != "stkb" drop',
        'add rule ip stack forward_o1 oifname "stkb" iifname != "stkb" drop',
        'add rule ip stack forward_o1 iifname { "stka", "stkb" } accept',
        'add rule ip stack forward_o1 oifname { "stka", "stkb" } accept',
        'add rule ip stack postrouting_o1 oifname != "stka" ip saddr 172.30.0.0/24 masquerade',
        'add rule ip stack postrouting_o1 oifname { "stka", "stkb" } ip saddr 127.0.0.0/8 masquerade',
        "add rule ip stack published_o1 ip daddr 127.0.0.1 udp dport 53 dnat to 172.30.0.3:5353",
        "add rule ip stack published_o1 tcp dport 8080 dnat to 172.30.0.2:80",
        "add rule ip stack forward jump forward_o1",
        "add rule ip stack postrouting jump postrouting_o1",
        "add rule ip stack prerouting fib daddr type local jump published_o1",
        "add rule ip stack output fib daddr type local jump published_o1",
        "",
      ].join("\n"),
    );
  });

  it("does not repeat jumps that exist", () => {
    const view = {
      chains: ["forward", "forward_o1"],
      jumps: [
        { chain: "forward", target: "forward_o1", handle: 4 },
        { chain: "postrouting", target: "postrouting_o1", handle: 5 },
        { chain: "prerouting", target: "published_o1", handle: 6 },
        { chain: "output", target: "published_o1", handle: 7 },
      ],
    };
    expect(planStackTable("o1", bridges.slice(1), [], view)).not.toContain("jump");
  });

  it.each([
    { name: "nothing there", view: undefined, expected: "" },
    { name: "the last owner", view: { chains: ["forward_o1"], jumps: [{ chain: "forward", target: "forward_o1", handle: 4 }] }, expected: "delete table ip stack\n" },
    {
      name: "another owner remains",
      view: {
        chains: ["forward", "forward_o1", "postrouting_o1", "forward_o2"],
        jumps: [
          { chain: "forward", target: "forward_o1", handle: 4 },
          { chain: "postrouting", target: "postrouting_o1", handle: 5 },
          { chain: "forward", target: "forward_o2", handle: 9 },
        ],
      },
      expected: "delete rule ip stack forward handle 4\ndelete rule ip stack postrouting handle 5\ndelete chain ip stack forward_o1\ndelete chain ip stack postrouting_o1\n",
    },
  ])("with no bridge left: $name", ({ view, expected }) => {
    expect(planStackTable("o1", [], [], view)).toBe(expected);
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
