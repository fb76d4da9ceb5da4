import { describe, expect, it } from "vitest";
import { parseResolvConf, renderHostsFile, renderResolvConf } from "../../../src/network/host-files.js";

describe("renderHostsFile", () => {
  it("names the container and adds extra_hosts", () => {
    expect(renderHostsFile({ hostname: "web", domainname: "example.test", addresses: ["172.30.0.2"], aliases: ["www"], extraHosts: [{ host: "db.local", ip: "10.0.0.5" }] })).toBe(
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n172.30.0.2\tweb.example.test web www\n10.0.0.5\tdb.local\n",
    );
  });
});

describe("renderResolvConf", () => {
  const base = { hostNameservers: ["192.0.2.53"], hostSearch: ["corp.test"], dns: [], dnsSearch: [], dnsOpt: [] };
  it.each([
    { name: "embedded DNS with the host's search", input: { ...base, embeddedDns: "172.30.0.1" }, expected: "nameserver 172.30.0.1\nsearch corp.test\n" },
    { name: "explicit dns wins", input: { ...base, embeddedDns: "172.30.0.1", dns: ["9.9.9.9"], dnsSearch: ["a.test"], dnsOpt: ["ndots:2"] }, expected: "nameserver 9.9.9.9\nsearch a.test\noptions ndots:2\n" },
    { name: "no stack network: the host's resolvers", input: base, expected: "nameserver 192.0.2.53\nsearch corp.test\n" },
  ])("$name", ({ input, expected }) => {
    expect(renderResolvConf(input)).toBe(expected);
  });
});

describe("parseResolvConf", () => {
  it("reads nameservers and the last search line, ignoring comments", () => {
    expect(parseResolvConf("# c\nnameserver 10.0.0.1\nnameserver 10.0.0.2 ; x\ndomain a.test\nsearch b.test c.test\noptions ndots:1\n")).toEqual({ nameservers: ["10.0.0.1", "10.0.0.2"], search: ["b.test", "c.test"] });
  });
});

describe("upstreamResolvers", () => {
  it("turns the host's nameservers into port-53 upstreams", async () => {
    const { upstreamResolvers } = await import("../../../src/network/host-files.js");
    expect(upstreamResolvers("nameserver 127.0.0.53\nnameserver 10.0.0.1\n")).toEqual([{ address: "127.0.0.53", port: 53 }, { address: "10.0.0.1", port: 53 }]);
  });
});
