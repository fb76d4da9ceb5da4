// Network namespaces made ahead of need. A container's interfaces inside its
// namespace can only be configured by a process inside it, and starting one
// (`ip -n NS …`) costs a process start. A spare is an `ip -force -batch -`
// already running in a fresh, unnamed namespace (`unshare --net`): attaching
// names that namespace (`ip netns attach NAME PID`, a bind mount) and sends it
// the in-namespace commands, with no process start on the way.
//
// Leak-free by construction: an unnamed namespace lives only as long as its
// ip process, which exits when its stdin closes — on close(), when the pool
// is idle, or when the owning process exits for any reason (kill -9 included).
import { readlinkSync } from "node:fs";
import { IpSession } from "./ip-session.js";

export interface NetnsSparesOptions {
  /** How many spares to keep ready (0 disables the pool). */
  size: number;
  /** The spare's command line (ends in an `ip -force -batch -` running in a new namespace). */
  argv?: string[];
}

export const spareArgv = ["unshare", "--net", "--", "ip", "-force", "-batch", "-"];

export class NetnsSpares {
  private readonly size: number;
  private readonly argv: string[];
  /** Spares in the order they were started; each resolves once usable (undefined: it failed). */
  private slots: Array<Promise<IpSession | undefined>> = [];
  /** Set when a spare could not be made (no unshare, no privilege): stop trying. */
  private broken = false;

  constructor(options: NetnsSparesOptions) {
    this.size = options.size;
    this.argv = options.argv ?? spareArgv;
  }

  /** Starts spares until `size` are ready or starting. */
  fill(): void {
    while (!this.broken && this.slots.length < this.size) this.slots.push(this.start());
  }

  /**
   * A spare to adopt (the caller names its namespace, runs its commands and
   * closes it), waiting for one that is starting; undefined when none was
   * asked for yet (fill() not called: starting one now would cost the caller
   * two process starts, unshare and ip, where `ip netns add` and one `ip -n`
   * cost one) or none can be had. The caller then creates the namespace
   * itself. Refilling is the caller's call to fill(), once its own work is
   * done: a process start blocks the event loop for the fork.
   */
  async take(): Promise<IpSession | undefined> {
    if (this.broken || this.size === 0) return undefined;
    while (this.slots.length > 0) {
      const spare = await this.slots.shift()!;
      if (spare?.alive) return spare;
      spare?.close();
    }
    return undefined;
  }

  /** Resolves once every spare started so far is ready (or has failed). */
  async whenFilled(): Promise<void> {
    await Promise.all(this.slots);
  }

  /** Ends every spare (their namespaces go with them); resolves once they have exited. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(
      slots.map(async (slot) => {
        const spare = await slot;
        spare?.close();
        await spare?.whenExited();
      }),
    );
  }

  private async start(): Promise<IpSession | undefined> {
    let spare: IpSession | undefined;
    try {
      spare = new IpSession(this.argv);
      // The fence's answer proves ip runs, i.e. unshare has made the namespace.
      await spare.run([]);
      // Never hand out a "spare" in the caller's own namespace: naming it would
      // make the host's namespace a container's.
      if (spare.pid === undefined || readlinkSync(`/proc/${spare.pid}/ns/net`) === readlinkSync("/proc/self/ns/net")) throw new Error("not in a new namespace");
      return spare;
    } catch {
      this.broken = true;
      spare?.close();
      return undefined;
    }
  }
}
