// IPv4 addresses and subnets as numbers: the arithmetic IPAM needs (parse,
// format, containment, overlap). Pure. IPv6 is handled as text only (static
// addresses inside a given subnet), see ipam.ts.

export interface Ipv4Subnet {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

function maskSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/** "10.0.0.0/24" → subnet (host bits cleared); a bare address is a /32. undefined when not IPv4. */
export function parseIpv4Subnet(text: string): Ipv4Subnet | undefined {
  const [addr, len, extra] = text.split("/");
  if (extra !== undefined || addr === undefined) return undefined;
  const ip = parseIpv4(addr);
  const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (ip === undefined || !(prefix >= 0 && prefix <= 32)) return undefined;
  const size = maskSize(prefix);
  return { base: ip - (ip % size), prefix };
}

export function formatSubnet(s: Ipv4Subnet): string {
  return `${formatIpv4(s.base)}/${s.prefix}`;
}

export function subnetSize(s: Ipv4Subnet): number {
  return maskSize(s.prefix);
}

export function subnetContains(s: Ipv4Subnet, ip: number): boolean {
  return ip >= s.base && ip < s.base + maskSize(s.prefix);
}

export function subnetsOverlap(a: Ipv4Subnet, b: Ipv4Subnet): boolean {
  return a.base < b.base + maskSize(b.prefix) && b.base < a.base + maskSize(a.prefix);
}

export function isIpv6(text: string): boolean {
  return text.includes(":");
}
