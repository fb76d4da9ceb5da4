// The kernel's socket tables (/proc/net/tcp, tcp6, udp, udp6): which
// addresses and ports are bound. Pure parsing; the files are read at the edge.

export interface BoundSocket {
  protocol: "tcp" | "udp";
  address: string;
  port: number;
  /** The socket's inode: /proc/<pid>/fd links to "socket:[inode]". */
  inode: number;
}

const TCP_LISTEN = "0A";
const UDP_UNCONNECTED = "07";

/** "0100007F" → "127.0.0.1" (the kernel prints each 32-bit word in host order: little-endian here). */
function ipv4(hex: string): string {
  const b = Buffer.from(hex, "hex");
  return [b[3], b[2], b[1], b[0]].join(".");
}

/** 32 hex digits, four little-endian words → the usual text form ("::" for all zeros, "::1" for loopback). */
function ipv6(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = Buffer.from(hex.slice(w * 8, w * 8 + 8), "hex");
    bytes.push(word[3]!, word[2]!, word[1]!, word[0]!);
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // The longest run of zero groups (two or more) becomes "::".
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { start: i, len: j - i };
    i = j;
  }
  const text = groups.map((g) => g.toString(16));
  if (best.start < 0) return text.join(":");
  return `${text.slice(0, best.start).join(":")}::${text.slice(best.start + best.len).join(":")}`;
}

/**
 * The listening TCP sockets, or the bound unconnected UDP sockets, of one
 * /proc/net table. `family` tells how addresses are printed (tcp6/udp6: v6).
 */
export function parseProcNet(text: string, protocol: "tcp" | "udp", family: 4 | 6): BoundSocket[] {
  const wanted = protocol === "tcp" ? TCP_LISTEN : UDP_UNCONNECTED;
  const out: BoundSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== wanted) continue;
    const [addr, port] = f[1]!.split(":");
    if (!addr || !port) continue;
    out.push({ protocol, address: family === 4 ? ipv4(addr) : ipv6(addr), port: parseInt(port, 16), inode: Number(f[9]) });
  }
  return out;
}
