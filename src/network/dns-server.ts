// The embedded DNS server the supervisor hosts: listens on each network's
// gateway (UDP and TCP, port 53), answers A/AAAA for the stack's names to
// clients on a network that has them, and forwards everything else to the
// host's resolvers, caching upstream answers for their TTL.
//
// Wire format: dns-packet (maintained, handles name compression and every
// record type) for queries and upstream answers; forwarded answers are passed
// on byte for byte with only the ID rewritten.
import { createSocket, type Socket } from "node:dgram";
import { createConnection, createServer, type Server } from "node:net";
import dnsPacket from "dns-packet";
import { SystemError } from "../errors.js";
import { parseIpv4, parseIpv4Subnet, subnetContains } from "./cidr.js";
import type { DnsZone } from "./dns-records.js";

export interface DnsEndpoint {
  address: string;
  port: number;
}

export interface DnsServerOptions {
  upstreams: DnsEndpoint[];
  /** Per upstream attempt. */
  timeoutMs?: number;
  now?: () => number;
}

interface CacheEntry {
  answer: Buffer;
  expires: number;
}

const answerTtl = 0; // stack's own names change when a container restarts: clients must not keep them

export class DnsServer {
  private zones: DnsZone[] = [];
  private readonly rotation = new Map<string, number>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly udp: Socket[] = [];
  private readonly tcp: Server[] = [];
  private readonly now: () => number;

  constructor(private readonly options: DnsServerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Replaces the names at once (a restarted container's new address is answered from the next query on). */
  updateRecords(zones: DnsZone[]): void {
    this.zones = zones;
  }

  /**
   * Starts listening on every endpoint; the addresses must exist (the bridges'
   * gateways). A socket of `inherited` (bound by the command that launched
   * this process, see reserveDnsSockets) is used for its endpoint instead of
   * a new one: queries sent before this server ran wait in it.
   */
  async start(listen: DnsEndpoint[], inherited: DnsListenSocket[] = []): Promise<void> {
    const fdOf = (ep: DnsEndpoint, protocol: "udp" | "tcp") => inherited.find((s) => s.address === ep.address && s.port === ep.port && s.protocol === protocol)?.fd;
    for (const ep of listen) {
      const udpFd = fdOf(ep, "udp");
      const tcpFd = fdOf(ep, "tcp");
      const sock = createSocket("udp4");
      sock.on("message", (msg, rinfo) => {
        void this.answer(msg, rinfo.address, "udp").then((reply) => reply && sock.send(reply, rinfo.port, rinfo.address));
      });
      await new Promise<void>((resolve, reject) => {
        sock.once("error", reject);
        if (udpFd !== undefined) sock.bind({ fd: udpFd }, () => resolve());
        else sock.bind(ep.port, ep.address, () => resolve());
      }).catch((e) => {
        throw new SystemError(`embedded DNS: cannot listen on ${ep.address}:${ep.port}/udp: ${(e as Error).message}`, { hint: "is another DNS server bound to the gateway address?", cause: e });
      });
      sock.on("error", () => {});
      this.udp.push(sock);
      const server = createServer((conn) => {
        let buffered = Buffer.alloc(0);
        conn.on("data", (chunk) => {
          buffered = Buffer.concat([buffered, chunk]);
          while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
            const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
            buffered = buffered.subarray(2 + msg.length);
            void this.answer(Buffer.from(msg), conn.remoteAddress?.replace(/^::ffff:/, "") ?? "", "tcp").then((reply) => {
              if (reply && !conn.destroyed) conn.write(Buffer.concat([lengthPrefix(reply.length), reply]));
            });
          }
        });
        conn.on("error", () => conn.destroy());
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        if (tcpFd !== undefined) server.listen({ fd: tcpFd }, () => resolve());
        else server.listen(ep.port, ep.address, () => resolve());
      }).catch((e) => {
        throw new SystemError(`embedded DNS: cannot listen on ${ep.address}:${ep.port}/tcp: ${(e as Error).message}`, { hint: "is another DNS server bound to the gateway address?", cause: e });
      });
      this.tcp.push(server);
    }
  }

  async stop(): Promise<void> {
    for (const s of this.udp.splice(0)) s.close();
    await Promise.all(this.tcp.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  /** The reply to one query from `client` (undefined: not a query, dropped). */
  async answer(msg: Buffer, client: string, transport: "udp" | "tcp"): Promise<Buffer | undefined> {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const question = query.questions?.[0];
    if (query.type !== "query" || !question) return undefined;
    const name = question.name.toLowerCase().replace(/\.$/, "");
    const local = this.lookup(name, client);
    if (local) {
      const wanted = question.type === "A" ? local.filter((a) => !a.includes(":")) : question.type === "AAAA" ? local.filter((a) => a.includes(":")) : [];
      const rotated = this.rotate(name, wanted);
      return dnsPacket.encode({
        type: "response",
        id: query.id,
        flags: dnsPacket.AUTHORITATIVE_ANSWER | (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: [question],
        answers: rotated.map((data) => ({ type: question.type as "A" | "AAAA", name: question.name, ttl: answerTtl, class: "IN" as const, data })),
      });
    }
    return this.forward(msg, query, `${question.type}|${question.class ?? "IN"}|${name}`, transport);
  }

  private lookup(name: string, client: string): string[] | undefined {
    const ip = parseIpv4(client);
    let found: string[] | undefined;
    for (const zone of this.zones) {
      const subnet = parseIpv4Subnet(zone.subnet);
      if (ip === undefined || !subnet || !subnetContains(subnet, ip)) continue;
      const hit = zone.names[name];
      if (hit) found = [...new Set([...(found ?? []), ...hit])];
    }
    return found;
  }

  private rotate(name: string, addresses: string[]): string[] {
    if (addresses.length < 2) return addresses;
    const n = this.rotation.get(name) ?? 0;
    this.rotation.set(name, n + 1);
    const k = n % addresses.length;
    return [...addresses.slice(k), ...addresses.slice(0, k)];
  }

  private async forward(msg: Buffer, query: dnsPacket.Packet, key: string, transport: "udp" | "tcp"): Promise<Buffer> {
    const cached = this.cache.get(key);
    if (cached && cached.expires > this.now()) return withId(cached.answer, query.id ?? 0);
    for (const upstream of this.options.upstreams) {
      try {
        const reply = transport === "tcp" ? await askTcp(msg, upstream, this.options.timeoutMs ?? 2000) : await askUdp(msg, upstream, this.options.timeoutMs ?? 2000);
        const ttl = cacheSeconds(reply);
        if (ttl > 0) this.cache.set(key, { answer: reply, expires: this.now() + ttl * 1000 });
        return withId(reply, query.id ?? 0);
      } catch {
        continue; // next upstream
      }
    }
    return dnsPacket.encode({ type: "response", id: query.id, flags: dnsPacket.RECURSION_AVAILABLE | 2 /* SERVFAIL */, questions: query.questions });
  }
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function withId(reply: Buffer, id: number): Buffer {
  const copy = Buffer.from(reply);
  copy.writeUInt16BE(id, 0);
  return copy;
}

/** The lowest TTL among the answers; 0 (not cached) for errors, truncated or empty answers. */
function cacheSeconds(reply: Buffer): number {
  try {
    const p = dnsPacket.decode(reply);
    if (((p.flags ?? 0) & 0x0f) !== 0 || p.flag_tc || !p.answers || p.answers.length === 0) return 0;
    return Math.min(...p.answers.map((a) => ("ttl" in a && typeof a.ttl === "number" ? a.ttl : 0)));
  } catch {
    return 0;
  }
}

function askUdp(msg: Buffer, upstream: DnsEndpoint, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(upstream.address.includes(":") ? "udp6" : "udp4");
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error("timeout"));
    }, timeoutMs);
    sock.on("message", (reply) => {
      if (reply.length < 2 || reply.readUInt16BE(0) !== msg.readUInt16BE(0)) return;
      clearTimeout(timer);
      sock.close();
      resolve(reply);
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      sock.close();
      reject(e);
    });
    sock.send(msg, upstream.port, upstream.address);
  });
}

function askTcp(msg: Buffer, upstream: DnsEndpoint, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const conn = createConnection({ host: upstream.address, port: upstream.port });
    let buffered = Buffer.alloc(0);
    conn.setTimeout(timeoutMs, () => {
      conn.destroy();
      reject(new Error("timeout"));
    });
    conn.on("connect", () => conn.write(Buffer.concat([lengthPrefix(msg.length), msg])));
    conn.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        conn.destroy();
        resolve(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
      }
    });
    conn.on("error", reject);
  });
}

/** A bound DNS socket handed to another process by descriptor. */
export interface DnsListenSocket {
  address: string;
  port: number;
  protocol: "udp" | "tcp";
  fd: number;
}

/**
 * Binds the UDP socket of every endpoint without reading it, for a DnsServer
 * in another process to inherit (the supervisor an `up -d` launches once its
 * containers run): queries sent meanwhile wait in the socket's queue instead
 * of being refused. (TCP is left to that server: Node accepts every
 * connection of a listening socket at once, and resolvers ask over UDP first.)
 * close() ends them here once the other process has its copies.
 */
export async function reserveDnsSockets(listen: DnsEndpoint[]): Promise<{ sockets: DnsListenSocket[]; close(): void }> {
  const udp: Socket[] = [];
  const sockets: DnsListenSocket[] = [];
  const close = () => {
    for (const s of udp) s.close();
  };
  try {
    for (const ep of listen) {
      const sock = createSocket("udp4");
      udp.push(sock);
      const fd = await new Promise<number>((resolve, reject) => {
        sock.once("error", reject);
        // In the bind callback, before the event loop polls again: nothing has been read yet.
        sock.bind(ep.port, ep.address, () => resolve(pauseUdp(sock)));
      });
      sock.unref(); // it must not keep this process alive
      sockets.push({ ...ep, protocol: "udp", fd });
    }
  } catch (e) {
    close();
    throw new SystemError(`embedded DNS: cannot bind ${listen.map((ep) => `${ep.address}:${ep.port}`).join(", ")}/udp: ${(e as Error).message}`, { hint: "is another DNS server bound to the gateway address?", cause: e });
  }
  return { sockets, close };
}

/**
 * Stops Node reading a bound UDP socket and returns its descriptor. Node
 * exposes neither (its public `_handle` getter is deprecated): the handle is
 * reached through the socket's own state.
 */
function pauseUdp(sock: Socket): number {
  const key = Object.getOwnPropertySymbols(sock).find((k) => k.description === "state symbol");
  const handle = key ? (sock as unknown as Record<symbol, { handle?: { fd?: number; recvStop?: () => number } }>)[key]?.handle : undefined;
  if (!handle || typeof handle.fd !== "number" || handle.fd < 0 || typeof handle.recvStop !== "function") throw new Error("this Node.js version does not expose a UDP socket's descriptor");
  handle.recvStop();
  return handle.fd;
}
