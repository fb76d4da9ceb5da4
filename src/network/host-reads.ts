// The three reads of the host's network state that `up` needs before it
// creates a network (the route table for a free subnet, stack's nft table and
// the host's iptables filter for the firewall change), as commands: the
// network host runs them (host-system.ts), and a command that will start
// containers may have them run early, beside Node's own start (src/cli/prestart.ts).
import { stackTable } from "./firewall.js";

export interface HostRead {
  argv: string[];
  /** What the command reads on its stdin (none: no stdin). */
  input?: string;
}

/** IPv4 and IPv6 routes of every table from one process: a batch of two listings (`root ::/0` selects IPv6 as -6 would), one JSON array a line. */
export const readRoutesCommand: HostRead = { argv: ["ip", "-j", "-force", "-batch", "-"], input: "route show table all\nroute show table all root ::/0\n" };

/** stack's nft table, as JSON (exit status 1 when there is none yet). */
export const readStackTableCommand: HostRead = { argv: ["nft", "-j", "list", "table", "ip", stackTable] };

/** One listing of the host's whole iptables filter table (one process, not one per chain). */
export const readForwardFilterCommand: HostRead = { argv: ["iptables", "-w", "-S"] };

/** The key of a read, for matching an early result with the read asked for later. */
export function hostReadKey(read: HostRead): string {
  return JSON.stringify([read.argv, read.input ?? null]);
}
