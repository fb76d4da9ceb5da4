// Userland port proxy (the alternative to DNAT; see docs/network.md for the
// measurement): listens on the host port and relays each TCP connection or
// UDP flow to the container. A library the supervisor hosts.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { createConnection, createServer, type Server } from "node:net";
import { SystemError } from "../errors.js";
import type { PublishedPort } from "./ports.js";

export interface PortProxy {
  stop(): Promise<void>;
}

const udpIdleMs = 30_000;

export async function startPortProxy(mapping: PublishedPort): Promise<PortProxy> {
  const host = mapping.hostIp === "" ? "0.0.0.0" : mapping.hostIp;
  return mapping.protocol === "tcp" ? startTcp(host, mapping) : startUdp(host, mapping);
}

async function startTcp(host: string, m: PublishedPort): Promise<PortProxy> {
  const open = new Set<import("node:net").Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: m.containerAddress, port: m.target });
    open.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: m.hostPort, exclusive: true }, () => resolve());
  }).catch((e) => {
    throw new SystemError(`port proxy: cannot listen on ${host}:${m.hostPort}/tcp: ${(e as Error).message}`, { hint: "another program holds the port", cause: e });
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function startUdp(host: string, m: PublishedPort): Promise<PortProxy> {
  const front = createSocket("udp4");
  // One upstream socket per client address, so replies find their way back.
  const flows = new Map<string, { sock: Socket; timer: NodeJS.Timeout }>();
  const flowFor = (rinfo: RemoteInfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const sock = createSocket("udp4");
      sock.on("message", (reply) => front.send(reply, rinfo.port, rinfo.address));
      sock.on("error", () => {});
      flow = { sock, timer: setTimeout(() => {}, 0) };
      flows.set(key, flow);
    }
    clearTimeout(flow.timer);
    const current = flow;
    flow.timer = setTimeout(() => {
      current.sock.close();
      flows.delete(key);
    }, udpIdleMs);
    return flow.sock;
  };
  front.on("message", (msg, rinfo) => flowFor(rinfo).send(msg, m.target, m.containerAddress));
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.bind(m.hostPort, host, () => resolve());
  }).catch((e) => {
    throw new SystemError(`port proxy: cannot listen on ${host}:${m.hostPort}/udp: ${(e as Error).message}`, { hint: "another program holds the port", cause: e });
  });
  front.on("error", () => {});
  return {
    stop: async () => {
      for (const f of flows.values()) {
        clearTimeout(f.timer);
        f.sock.close();
      }
      flows.clear();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
