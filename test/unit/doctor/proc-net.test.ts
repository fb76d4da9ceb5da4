import { describe, expect, test } from "vitest";
import { parseProcNet } from "../../../src/doctor/proc-net.js";

// Lines as the kernel prints them (x86: each 32-bit word little-endian).
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  811: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41101 2 0000000000000000 0
  812: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 41102 2 0000000000000000 0
  900: 0100007F:A1B2 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 41103 2 0000000000000000 0
`;
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 01001EAC:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0035 0100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 5002 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6002 1 0000000000000000 100 0 0 10 0
   2: 000080FE00000000FF0B5A02FE8C1FFE:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6003 1 0000000000000000 100 0 0 10 0
`;

describe("parseProcNet", () => {
  test("udp: bound unconnected sockets only, addresses decoded", () => {
    expect(parseProcNet(UDP, "udp", 4)).toEqual([
      { protocol: "udp", address: "0.0.0.0", port: 53, inode: 41101 },
      { protocol: "udp", address: "127.0.0.53", port: 53, inode: 41102 },
    ]);
  });

  test("tcp: listening sockets only (an established connection to :53 is not a listener)", () => {
    expect(parseProcNet(TCP, "tcp", 4)).toEqual([{ protocol: "tcp", address: "172.30.0.1", port: 53, inode: 5001 }]);
  });

  test("tcp6: the wildcard, loopback and a link-local address", () => {
    expect(parseProcNet(TCP6, "tcp", 6)).toEqual([
      { protocol: "tcp", address: "::", port: 53, inode: 6001 },
      { protocol: "tcp", address: "::1", port: 8080, inode: 6002 },
      { protocol: "tcp", address: "fe80::25a:bff:fe1f:8cfe", port: 53, inode: 6003 },
    ]);
  });

  test("an empty or header-only table", () => {
    expect(parseProcNet("", "udp", 4)).toEqual([]);
    expect(parseProcNet(UDP.split("\n")[0]!, "udp", 4)).toEqual([]);
  });
});
