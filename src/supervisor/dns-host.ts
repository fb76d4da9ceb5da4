// The project's embedded DNS, hosted by its supervisor: a DnsServer listening
// on the gateway of every network the project created, answering from every
// project's network state (a shared external network sees all its members).
// refresh() is called whenever the supervisor's view changes (a container was
// started, restarted, stopped or forgotten): containers are attached before
// they start, so their names are known by the time they run.
import { closeSync, readFileSync } from "node:fs";
import { buildDnsZones, dnsListenAddresses, DnsServer, LinuxNetworkHost, NetworkManager, upstreamResolvers, type DnsListenSocket } from "../network/index.js";

export interface DnsHostOptions {
  project: string;
  stateDir: string;
  /** Port to listen on (53; tests may pick another). */
  port?: number;
  log(message: string): void;
  /** Bound sockets this process inherited (from the `up -d` that launched it): used by the first start, closed when not. */
  inherited?: DnsListenSocket[];
}

export class DnsHost {
  private server: DnsServer | undefined;
  private listening = "";
  private readonly manager: NetworkManager;
  private pending: Promise<void> = Promise.resolve();
  private inherited: DnsListenSocket[];

  constructor(private readonly opts: DnsHostOptions) {
    this.manager = new NetworkManager({ host: new LinuxNetworkHost(), stateDir: opts.stateDir });
    this.inherited = opts.inherited ?? [];
  }

  /** Serialized: a refresh never overlaps another. */
  refresh(): Promise<void> {
    this.pending = this.pending.then(() => this.apply()).catch((e) => this.opts.log(`dns: ${(e as Error).message}`));
    return this.pending;
  }

  private async apply(): Promise<void> {
    const own = this.manager.readState(this.opts.project);
    const endpoints = dnsListenAddresses(own, this.opts.port ?? 53);
    const key = JSON.stringify(endpoints);
    if (key !== this.listening) {
      await this.server?.stop();
      this.server = undefined;
      this.listening = "";
      const inherited = this.inherited.splice(0);
      const unused = inherited.filter((s) => !endpoints.some((ep) => ep.address === s.address && ep.port === s.port));
      for (const s of unused) closeSync(s.fd);
      if (endpoints.length > 0) {
        const server = new DnsServer({ upstreams: upstreamResolvers(readResolvConf()) });
        server.updateRecords(buildDnsZones(this.manager.readAllStates()));
        try {
          await server.start(endpoints, inherited.filter((s) => !unused.includes(s)));
        } catch (e) {
          await server.stop();
          throw e;
        }
        this.server = server;
        this.listening = key;
        this.opts.log(`dns: serving on ${endpoints.map((e) => `${e.address}:${e.port}`).join(", ")}`);
      }
    }
    this.server?.updateRecords(buildDnsZones(this.manager.readAllStates()));
  }

  async close(): Promise<void> {
    await this.pending;
    await this.server?.stop();
    this.server = undefined;
  }
}

function readResolvConf(): string {
  try {
    return readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    return "";
  }
}
