// The narrow interface between the network planners and the host kernel, and
// its real implementation (iproute2, nft, iptables, /proc/sys, sockets).
// Everything in here is a system effect; it is tested for real as root.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { SystemError } from "../errors.js";
import { realCommandRunner, type CommandResult } from "../fs/command-runner.js";
import type { HostForwardFilter, StackTableView } from "./firewall.js";
import { stackComment } from "./firewall.js";
import { type HostRead, hostReadKey, readForwardFilterCommand, readRoutesCommand, readStackTableCommand } from "./host-reads.js";
import { takeEarlyResult } from "../fs/early-start.js";
import type { HostRoute } from "./ipam.js";
import type { IpCommand } from "./link-plan.js";
import { IpSession, type IpCommandFailure } from "./ip-session.js";
import { NetnsSpares } from "./netns-spares.js";
import { namespaceSteps, type NamespaceConfigurator } from "./namespace-steps.js";

export interface NetworkHost {
  /**
   * Runs the commands in order (one batch per run of commands in the same
   * namespace; every command of a batch runs, the first failures are
   * reported). With `tolerant`, failures (already gone) are ignored.
   */
  runIp(commands: IpCommand[], options?: { tolerant?: boolean }): Promise<void>;
  /** A hint that containers will be attached soon: the host may make namespaces ahead of need. */
  prepareNamespaces(): void;
  /** Ends whatever the host keeps running between calls (long-lived processes); safe to call twice. */
  close(): Promise<void>;
  /** Applies an nft script atomically (`nft -f -`). */
  runNft(script: string): Promise<void>;
  runIptables(args: string[]): Promise<void>;
  /** Applies iptables rule changes (argument lists as runIptables takes them) to the filter table in one transaction (`iptables-restore --noflush`): all or none. */
  runIptablesBatch(ops: string[][]): Promise<void>;
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

const ipHint = "stack needs root and iproute2; run `stack down` to clean up, then retry";

function failure(what: string, e: unknown): SystemError {
  const err = e as { stderr?: string; message?: string };
  const detail = (err.stderr || err.message || String(e)).trim();
  return new SystemError(`${what} failed: ${detail}`, { hint: "stack needs root and iproute2/nftables; run `stack down` to clean up, then retry", cause: e });
}

/** Runs a command to its end (CommandRunner's run: the lean node:child_process runner, or the perl helper's). */
export interface CommandRun {
  run(argv: string[], options?: { input?: string }): Promise<CommandResult>;
}

export interface LinuxNetworkHostOptions {
  /** Namespaces kept ready for attaching (see netns-spares.ts); 0 makes each with `ip netns add`. Default 1; none are made when `inside` is given. */
  spareNamespaces?: number;
  /**
   * Runs a new namespace's own set-up (lo and eth* up, IPv4 addresses, the
   * default route) with no process (the perl helper's rtnetlink); the
   * namespace itself is then made by the host's long-lived ip (`netns add`).
   * A step it cannot say (IPv6, an MTU …) goes to an `ip -n` as before.
   */
  inside?: NamespaceConfigurator;
  /**
   * Runs nft, iptables and the route read. Default: spawned from this
   * process through the lean runner (node:child_process, not execa: a
   * ~120-module import and ~10 ms more per process). The CLI passes a perl
   * helper of its own, which forks them instead: a fork of the CLI's Node
   * costs its thread 6–13 ms (more under load) per command, on `up`'s path.
   */
  commands?: CommandRun;
  /** After this long without an `ip` command, the long-lived ip processes (and spares) end. Default 30 s. */
  idleMs?: number;
}

export class LinuxNetworkHost implements NetworkHost {
  private session?: IpSession;
  private readonly spares: NetnsSpares;
  private readonly idleMs: number;
  private idleTimer?: NodeJS.Timeout;
  private readonly inside?: NamespaceConfigurator;
  private readonly commands: CommandRun;

  constructor(
    private readonly netnsDir = "/run/netns",
    options: LinuxNetworkHostOptions = {},
  ) {
    this.inside = options.inside;
    this.commands = options.commands ?? realCommandRunner;
    this.spares = new NetnsSpares({ size: options.inside ? 0 : (options.spareNamespaces ?? 1) });
    this.idleMs = options.idleMs ?? 30_000;
  }

  prepareNamespaces(): void {
    this.spares.fill();
    this.touch();
  }

  async runIp(commands: IpCommand[], options: { tolerant?: boolean } = {}): Promise<void> {
    // Consecutive commands of the same namespace form one group. Host-side
    // groups go to one long-lived ip process; a `netns add` adopts a spare
    // namespace whose ip then runs that namespace's group; any other
    // namespace's group goes to the `inside` configurator when it can say
    // every step of it, else gets an `ip -n NS` of its own.
    const groups: Array<{ netns?: string; lines: string[] }> = [];
    for (const c of commands) {
      const last = groups[groups.length - 1];
      const line = c.args.join(" ");
      if (last && last.netns === c.netns) last.lines.push(line);
      else groups.push({ netns: c.netns, lines: [line] });
    }
    const adopted = new Map<string, IpSession>();
    let namespaceMade = false;
    try {
      for (const g of groups) {
        let lines = g.lines;
        let session: IpSession;
        let ownSession = false;
        if (g.netns === undefined) {
          lines = [];
          for (const line of g.lines) {
            const add = /^netns add (\S+)$/.exec(line);
            if (add) namespaceMade = true;
            const spare = add ? await this.spares.take() : undefined;
            if (add && spare) {
              adopted.set(add[1]!, spare);
              lines.push(`netns attach ${add[1]} ${spare.pid}`);
            } else lines.push(line);
          }
          session = this.hostSession();
        } else {
          const steps = this.inside && !adopted.has(g.netns) ? namespaceSteps(g.lines) : undefined;
          if (steps) {
            try {
              await this.inside!.configureNamespace(this.netnsPath(g.netns), steps);
            } catch (e) {
              if (options.tolerant) continue;
              throw new SystemError(`setting up network namespace ${g.netns} (${g.lines.join("; ")}) failed: ${(e as Error).message}`, { hint: ipHint, cause: e });
            }
            continue;
          }
          session = adopted.get(g.netns) ?? new IpSession(["ip", "-n", g.netns, "-force", "-batch", "-"]);
          ownSession = !adopted.has(g.netns);
        }
        const where = `ip ${g.netns ? `-n ${g.netns} ` : ""}`;
        let failures: IpCommandFailure[];
        try {
          failures = await session.run(lines);
        } catch (e) {
          if (options.tolerant) continue;
          throw new SystemError(`${where}(${lines.join("; ")}) failed: ${(e as Error).message}`, { hint: ipHint, cause: e });
        } finally {
          if (ownSession) session.close();
        }
        if (failures.length > 0 && !options.tolerant) {
          const detail = failures.map((f) => `${JSON.stringify(f.command)}: ${f.message}`).join("; ");
          throw new SystemError(`${where}failed: ${detail}`, { hint: ipHint });
        }
      }
    } finally {
      for (const s of adopted.values()) s.close();
      // A namespace made now means more will follow: keep a spare ready.
      // Started after the work, not during it: a process start blocks the
      // event loop for the fork.
      if (namespaceMade) setImmediate(() => this.spares.fill());
      this.touch();
    }
  }

  /** Resolves once the spare namespaces asked for by prepareNamespaces() are ready (benchmarks and tests). */
  whenPrepared(): Promise<void> {
    return this.spares.whenFilled();
  }

  /** Ends the long-lived ip processes and the spare namespaces; resolves once they have exited. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const session = this.session;
    this.session = undefined;
    session?.close();
    await Promise.all([session?.whenExited(), this.spares.close()]);
  }

  private hostSession(): IpSession {
    if (!this.session?.alive) this.session = new IpSession(["ip", "-force", "-batch", "-"]);
    return this.session;
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.close(), this.idleMs);
    this.idleTimer.unref();
  }

  /** A read of the host's state: its early result when this command had it run at start (src/cli/prestart.ts; read again if it failed), else run now. */
  private read(r: HostRead): Promise<CommandResult> {
    return takeEarlyResult(hostReadKey(r))?.catch(() => this.run(r.argv, r.input)) ?? this.run(r.argv, r.input);
  }

  private run(argv: string[], input?: string): Promise<CommandResult> {
    return this.commands.run(argv, input === undefined ? {} : { input });
  }

  /** Runs argv; a non-zero exit is an error carrying the command's stderr. */
  private async mustRun(argv: string[], input?: string): Promise<CommandResult> {
    const r = await this.run(argv, input);
    if (r.exitCode !== 0) throw Object.assign(new Error(r.stderr.trim() || `exit ${r.exitCode}`), { stderr: r.stderr });
    return r;
  }

  async runNft(script: string): Promise<void> {
    try {
      await this.mustRun(["nft", "-f", "-"], script);
    } catch (e) {
      throw failure("nft", e);
    }
  }

  async runIptables(args: string[]): Promise<void> {
    try {
      await this.mustRun(["iptables", "-w", ...args]);
    } catch (e) {
      throw failure(`iptables ${args.join(" ")}`, e);
    }
  }

  async runIptablesBatch(ops: string[][]): Promise<void> {
    try {
      await this.mustRun(["iptables-restore", "-w", "--noflush"], renderIptablesRestore(ops));
    } catch (e) {
      throw failure("iptables-restore", e);
    }
  }

  async readStackTable(): Promise<StackTableView | undefined> {
    const r = await this.read(readStackTableCommand);
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
    const r = await this.read(readForwardFilterCommand);
    return parseForwardFilter(r.exitCode === 0 ? r.stdout : "");
  }

  async readRoutes(): Promise<HostRoute[]> {
    const r = await this.read(readRoutesCommand);
    return parseRouteListings(r.exitCode === 0 ? String(r.stdout) : "");
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

/** iptables-restore input for rule changes in the filter table (stack's arguments are single words: bridge names, "stack", targets). */
export function renderIptablesRestore(ops: string[][]): string {
  return `*filter\n${ops.map((args) => args.join(" ")).join("\n")}\nCOMMIT\n`;
}

/** The parts of `iptables -S` (the filter table) that stack's forward rules depend on. */
export function parseForwardFilter(listing: string): HostForwardFilter {
  const lines = listing.split("\n");
  const policy = lines.find((l) => l.startsWith("-P FORWARD "))?.split(" ")[2];
  const dockerUserExists = lines.some((l) => l.trim() === "-N DOCKER-USER");
  const ours = (l: string) => (l.startsWith("-A DOCKER-USER ") || l.startsWith("-A FORWARD ")) && l.includes(`--comment ${stackComment} `);
  return { ...(policy ? { forwardPolicy: policy } : {}), dockerUserExists, stackRules: lines.filter(ours) };
}

/** The routes in `ip -j -batch` output (one JSON array per line), without local and broadcast ones. */
export function parseRouteListings(text: string): HostRoute[] {
  const routes: HostRoute[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("[")) continue;
    for (const x of JSON.parse(line) as Array<{ dst: string; type?: string }>) if (x.type !== "local" && x.type !== "broadcast") routes.push(x);
  }
  return routes;
}
