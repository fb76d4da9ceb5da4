// The narrow interface between the network planners and the host kernel, and
// its real implementation (iproute2, nft, iptables, /proc/sys, sockets).
// Everything in here is a system effect; it is tested for real as root.
import type { Options as ExecaOptions } from "execa";

// execa is imported on first use: it is a large module graph (~120 files), and
// verbs such as `ps` never spawn anything.
async function execa<O extends ExecaOptions>(file: string, args: readonly string[], options?: O) {
  const m = await import("execa");
  return m.execa(file, args, options);
}
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { SystemError } from "../errors.js";
import type { HostForwardFilter, StackTableView } from "./firewall.js";
import { stackComment, stackTable } from "./firewall.js";
import type { HostRoute } from "./ipam.js";
import type { IpCommand } from "./link-plan.js";

export interface NetworkHost {
  /** Runs the commands in order, one `ip -batch` per run of commands in the same namespace. With `tolerant`, failures (already gone) are ignored. */
  runIp(commands: IpCommand[], options?: { tolerant?: boolean }): Promise<void>;
  /** Applies an nft script atomically (`nft -f -`). */
  runNft(script: string): Promise<void>;
  runIptables(args: string[]): Promise<void>;
  /** `table ip stack` as it is now; undefined when it does not exist. */
  readStackTable(): Promise<StackTableView | undefined>;
  readForwardFilter(): Promise<HostForwardFilter>;
  readRoutes(): Promise<HostRoute[]>;
  readSysctl(key: string): string;
  writeSysctl(key: string, value: string): void;
  listNetns(): string[];
  listLinks(): string[];
  netnsPath(name: string): string;
  /** true when `port` can be bound on `hostIp` (the check stack runs before anything starts). */
  isPortFree(hostIp: string, port: number, protocol: "tcp" | "udp"): Promise<boolean>;
  /** A port the kernel picks as free on `hostIp` (published port omitted). */
  pickFreePort(hostIp: string, protocol: "tcp" | "udp"): Promise<number>;
}

function failure(what: string, e: unknown): SystemError {
  const err = e as { stderr?: string; shortMessage?: string };
  const detail = (err.stderr || err.shortMessage || String(e)).trim();
  return new SystemError(`${what} failed: ${detail}`, { hint: "stack needs root and iproute2/nftables; run `stack down` to clean up, then retry", cause: e });
}

export class LinuxNetworkHost implements NetworkHost {
  constructor(private readonly netnsDir = "/run/netns") {}

  async runIp(commands: IpCommand[], options: { tolerant?: boolean } = {}): Promise<void> {
    // Group consecutive commands of the same namespace into one batch: one
    // process per group instead of one per command.
    const groups: Array<{ netns?: string; lines: string[] }> = [];
    for (const c of commands) {
      const last = groups[groups.length - 1];
      const line = c.args.join(" ");
      if (last && last.netns === c.netns) last.lines.push(line);
      else groups.push({ netns: c.netns, lines: [line] });
    }
    for (const g of groups) {
      const args = [...(g.netns ? ["-n", g.netns] : []), ...(options.tolerant ? ["-force"] : []), "-batch", "-"];
      try {
        await execa("ip", args, { input: g.lines.join("\n") + "\n" });
      } catch (e) {
        if (!options.tolerant) throw failure(`ip ${g.netns ? `-n ${g.netns} ` : ""}(${g.lines.join("; ")})`, e);
      }
    }
  }

  async runNft(script: string): Promise<void> {
    try {
      await execa("nft", ["-f", "-"], { input: script });
    } catch (e) {
      throw failure("nft", e);
    }
  }

  async runIptables(args: string[]): Promise<void> {
    try {
      await execa("iptables", ["-w", ...args]);
    } catch (e) {
      throw failure(`iptables ${args.join(" ")}`, e);
    }
  }

  async readStackTable(): Promise<StackTableView | undefined> {
    const r = await execa("nft", ["-j", "list", "table", "ip", stackTable], { reject: false });
    if (r.exitCode !== 0) return undefined;
    const items = (JSON.parse(String(r.stdout)) as { nftables: Array<Record<string, { name?: string; chain?: string; handle?: number; expr?: unknown[] }>> }).nftables;
    const view: StackTableView = { chains: [], jumps: [] };
    for (const item of items) {
      if (item.chain?.name) view.chains.push(item.chain.name);
      const rule = item.rule;
      if (!rule?.chain || rule.handle === undefined) continue;
      const target = findJump(rule.expr ?? []);
      if (target) view.jumps.push({ chain: rule.chain, target, handle: rule.handle });
    }
    return view;
  }

  async readForwardFilter(): Promise<HostForwardFilter> {
    const list = async (chain: string): Promise<string[] | undefined> => {
      const r = await execa("iptables", ["-w", "-S", chain], { reject: false });
      return r.exitCode === 0 ? String(r.stdout).split("\n") : undefined;
    };
    const dockerUser = await list("DOCKER-USER");
    const forward = await list("FORWARD");
    const policy = forward?.find((l) => l.startsWith("-P FORWARD "))?.split(" ")[2];
    const lines = [...(dockerUser ?? []), ...(forward ?? [])];
    return {
      forwardPolicy: policy,
      dockerUserExists: dockerUser !== undefined,
      stackRules: lines.filter((l) => l.startsWith("-A ") && l.includes(`--comment ${stackComment} `)),
    };
  }

  async readRoutes(): Promise<HostRoute[]> {
    const read = async (family: string[]): Promise<HostRoute[]> => {
      const r = await execa("ip", [...family, "-j", "route", "show", "table", "all"], { reject: false });
      if (r.exitCode !== 0 || !r.stdout) return [];
      return (JSON.parse(String(r.stdout)) as Array<{ dst: string; type?: string }>).filter((x) => x.type !== "local" && x.type !== "broadcast");
    };
    return [...(await read([])), ...(await read(["-6"]))];
  }

  readSysctl(key: string): string {
    return readFileSync(`/proc/sys/${key.replace(/\./g, "/")}`, "utf8").trim();
  }

  writeSysctl(key: string, value: string): void {
    writeFileSync(`/proc/sys/${key.replace(/\./g, "/")}`, value);
  }

  listNetns(): string[] {
    try {
      return readdirSync(this.netnsDir).sort();
    } catch {
      return [];
    }
  }

  listLinks(): string[] {
    return readdirSync("/sys/class/net").sort();
  }

  netnsPath(name: string): string {
    return `${this.netnsDir}/${name}`;
  }

  isPortFree(hostIp: string, port: number, protocol: "tcp" | "udp"): Promise<boolean> {
    return bindProbe(hostIp, port, protocol).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === "EADDRINUSE" || e.code === "EACCES") return false;
        throw failure(`binding ${hostIp}:${port}/${protocol}`, e);
      },
    );
  }

  pickFreePort(hostIp: string, protocol: "tcp" | "udp"): Promise<number> {
    return bindProbe(hostIp, 0, protocol);
  }
}

/** Binds and releases at once; resolves with the bound port. */
function bindProbe(hostIp: string, port: number, protocol: "tcp" | "udp"): Promise<number> {
  const host = hostIp === "" ? "0.0.0.0" : hostIp;
  return new Promise((resolve, reject) => {
    if (protocol === "udp") {
      const s = createSocket(host.includes(":") ? "udp6" : "udp4");
      s.once("error", (e) => {
        s.close();
        reject(e);
      });
      s.bind(port, host, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    } else {
      const s = createServer();
      s.once("error", reject);
      s.listen({ port, host, exclusive: true }, () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    }
  });
}

function findJump(exprs: unknown[]): string | undefined {
  for (const e of exprs) {
    const jump = (e as { jump?: { target?: string } }).jump;
    if (jump?.target) return jump.target;
  }
  return undefined;
}
