// reserveDnsSockets: a UDP socket bound here and not read, inherited by a
// DnsServer in another process (the supervisor `up -d` launches last): a
// query sent before that server runs is answered once it does.
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import dnsPacket from "dns-packet";
import { describe, expect, it } from "vitest";
import { reserveDnsSockets } from "../../../src/network/dns-server.js";

const built = fileURLToPath(new URL("../../../dist/network/dns-server.js", import.meta.url));

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

describe("reserveDnsSockets", () => {
  it("refuses an address that is not the host's, naming it", async () => {
    await expect(reserveDnsSockets([{ address: "192.0.2.1", port: 53 }])).rejects.toThrow(/embedded DNS: cannot bind 192\.0\.2\.1:53\/udp: .*EADDRNOTAVAIL/);
  });

  it.skipIf(!existsSync(built))("a query sent before the server runs is answered by the process that inherits the socket", async () => {
    const port = await freeUdpPort();
    const reserved = await reserveDnsSockets([{ address: "127.0.0.1", port }]);
    expect(reserved.sockets).toEqual([{ address: "127.0.0.1", port, protocol: "udp", fd: expect.any(Number) }]);
    const client = createSocket("udp4");
    const reply = new Promise<Buffer>((resolve) => client.once("message", (m) => resolve(m)));
    // Sent now: nobody reads the socket yet; the query waits in its queue.
    client.send(dnsPacket.encode({ type: "query", id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: "A", name: "db" }] }), port, "127.0.0.1");
    await new Promise((r) => setTimeout(r, 200));
    const script = `
      const { DnsServer } = await import(${JSON.stringify(built)});
      const server = new DnsServer({ upstreams: [] });
      server.updateRecords([{ network: "n", subnet: "127.0.0.0/8", names: { db: ["10.9.8.7"] } }]);
      await server.start([{ address: "127.0.0.1", port: ${port} }], [{ address: "127.0.0.1", port: ${port}, protocol: "udp", fd: 3 }]);
      setTimeout(() => process.exit(0), 3000);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "inherit", "inherit", reserved.sockets[0]!.fd] });
    reserved.close(); // the child has its copy
    try {
      const answer = dnsPacket.decode(await reply);
      expect(answer.id).toBe(7);
      expect(answer.answers?.map((a) => (a as { data: string }).data)).toEqual(["10.9.8.7"]);
    } finally {
      child.kill();
      client.close();
    }
  });
});
