import { describe, expect, it } from "vitest";
import { findPortHolder, formatPublishedPort, lookupPublishedPort, planPortRequests, type PublishedPort } from "../../../src/network/ports.js";
import type { PortModel } from "../../../src/schema/model.js";

const p = (target: number, over: Partial<PortModel> = {}): PortModel => ({ target, protocol: "tcp", mode: "ingress", ...over });

describe("planPortRequests", () => {
  it.each([
    { name: "random host port", ports: [p(80)], expected: [{ hostIp: "", protocol: "tcp", target: 80 }] },
    { name: "fixed port on an address", ports: [p(80, { published: "8080", host_ip: "127.0.0.1" })], expected: [{ hostIp: "127.0.0.1", candidates: [8080], protocol: "tcp", target: 80 }] },
    { name: "0.0.0.0 is every address", ports: [p(53, { published: "53", host_ip: "0.0.0.0", protocol: "udp" })], expected: [{ hostIp: "", candidates: [53], protocol: "udp", target: 53 }] },
    {
      name: "ranges one to one",
      ports: [p(80, { published: "8000-8001" }), p(81, { published: "8000-8001" })],
      expected: [
        { hostIp: "", candidates: [8000], protocol: "tcp", target: 80 },
        { hostIp: "", candidates: [8001], protocol: "tcp", target: 81 },
      ],
    },
    { name: "any port of a range", ports: [p(80, { published: "9000-9002" })], expected: [{ hostIp: "", candidates: [9000, 9001, 9002], protocol: "tcp", target: 80 }] },
  ])("$name", ({ ports, expected }) => {
    expect(planPortRequests(ports, "services.web")).toEqual(expected);
  });

  it.each([
    { name: "sctp", ports: [p(80, { protocol: "sctp" })], message: 'services.web.ports[0].protocol: "sctp" is not supported by stack' },
    { name: "bad range", ports: [p(80, { published: "9-2" })], message: 'services.web.ports[0].published: "9-2" is not a port or port range' },
    { name: "port 0", ports: [p(80, { published: "0" })], message: "is not a port or port range" },
    { name: "IPv6 host address", ports: [p(80, { published: "80", host_ip: "::1" })], message: 'services.web.ports[0].host_ip: "::1" is IPv6' },
  ])("refuses $name", ({ ports, message }) => {
    expect(() => planPortRequests(ports, "services.web")).toThrow(message);
  });
});

const mapping = (over: Partial<PublishedPort>): PublishedPort => ({ service: "web", container: "p-web-1", hostIp: "", hostPort: 8080, protocol: "tcp", target: 80, containerAddress: "172.30.0.2", ...over });

describe("port lookups", () => {
  const ports = [mapping({ container: "p-web-2", hostPort: 8081 }), mapping({}), mapping({ protocol: "udp", hostPort: 5353, target: 53, hostIp: "127.0.0.1" })];
  it.each([
    { name: "first replica by default", q: { service: "web", target: 80 }, expected: "0.0.0.0:8080" },
    { name: "a given replica", q: { service: "web", target: 80, container: "p-web-2" }, expected: "0.0.0.0:8081" },
    { name: "udp", q: { service: "web", target: 53, protocol: "udp" as const }, expected: "127.0.0.1:5353" },
    { name: "not published", q: { service: "web", target: 443 }, expected: undefined },
  ])("$name", ({ q, expected }) => {
    const hit = lookupPublishedPort(ports, q);
    expect(hit ? formatPublishedPort(hit) : undefined).toBe(expected);
  });

  it.each([
    { name: "same port, every address", wanted: { hostIp: "127.0.0.1", hostPort: 8080, protocol: "tcp" }, expected: { project: "a", service: "web" } },
    { name: "other protocol", wanted: { hostIp: "", hostPort: 8080, protocol: "udp" }, expected: undefined },
    { name: "other address of a specific binding", wanted: { hostIp: "10.0.0.1", hostPort: 5353, protocol: "udp" }, expected: undefined },
  ])("holder: $name", ({ wanted, expected }) => {
    expect(findPortHolder([{ project: "a", ports }], wanted)).toEqual(expected);
  });
});
