import { describe, expect, it } from "vitest";
import dnsPacket from "dns-packet";
import { DnsServer } from "../../../src/network/dns-server.js";
import type { DnsZone } from "../../../src/network/dns-records.js";

const zones: DnsZone[] = [
  { network: "p_front", subnet: "172.30.0.0/24", names: { web: ["172.30.0.2", "172.30.0.3", "fd00::2"], db: ["172.30.0.9"] } },
  { network: "p_back", subnet: "172.30.1.0/24", names: { db: ["172.30.1.9"] } },
];

function query(name: string, type: "A" | "AAAA" = "A"): Buffer {
  return dnsPacket.encode({ type: "query", id: 42, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });
}

async function ask(server: DnsServer, name: string, client: string, type: "A" | "AAAA" = "A") {
  const reply = await server.answer(query(name, type), client, "udp");
  const p = dnsPacket.decode(reply!);
  return { id: p.id, rcode: (p.flags ?? 0) & 0x0f, data: (p.answers ?? []).map((a) => String((a as { data: unknown }).data)) };
}

describe("DnsServer.answer", () => {
  const server = new DnsServer({ upstreams: [], timeoutMs: 50 });
  server.updateRecords(zones);

  it.each([
    { name: "A on the client's network", q: "db", client: "172.30.0.5", type: "A" as const, expected: ["172.30.0.9"] },
    { name: "the same name on another network", q: "db", client: "172.30.1.5", type: "A" as const, expected: ["172.30.1.9"] },
    { name: "case and trailing dot ignored", q: "DB.", client: "172.30.0.5", type: "A" as const, expected: ["172.30.0.9"] },
    { name: "AAAA", q: "web", client: "172.30.0.5", type: "AAAA" as const, expected: ["fd00::2"] },
    { name: "known name, no address of the type", q: "db", client: "172.30.0.5", type: "AAAA" as const, expected: [] },
  ])("$name", async ({ q, client, type, expected }) => {
    const r = await ask(server, q, client, type);
    expect(r.id).toBe(42);
    expect(r.rcode).toBe(0);
    expect(r.data).toEqual(expected);
  });

  it("does not answer names of networks the client is not on (forwarded: SERVFAIL without upstreams)", async () => {
    const r = await ask(server, "web", "172.30.1.5");
    expect(r.rcode).toBe(2);
    expect(r.data).toEqual([]);
  });

  it("rotates the addresses of a scaled service", async () => {
    const a = await ask(server, "web", "172.30.0.5");
    const b = await ask(server, "web", "172.30.0.5");
    expect(a.data.sort()).toEqual(["172.30.0.2", "172.30.0.3"]);
    expect(b.data[0]).not.toBe((await ask(server, "web", "172.30.0.5")).data[0]);
  });

  it("drops what is not a query", async () => {
    expect(await server.answer(Buffer.from([1, 2, 3]), "172.30.0.5", "udp")).toBeUndefined();
  });
});
