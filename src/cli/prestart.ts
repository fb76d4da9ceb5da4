// Work a command that starts containers can begin before the CLI itself
// loads. bin/stack calls prestart() first (from dist/bundle/prestart.cjs, a
// small script of its own) for `up` and `create`: Node
// then spends ~100 ms reading and compiling the CLI on one core while the
// other is idle on a 2-core machine. Meanwhile a perl helper starts and runs
// the host reads `up` needs before it creates a network (routes, stack's nft
// table, the iptables filter: ~45 ms of processes), and the CLI takes both
// over (src/fs/early-start.ts): the helper becomes its one perl helper
// (perlHelper in src/fs/perl-helper.ts), and a read asked for later gets the
// early result.
//
// The reads are a snapshot taken ~0.1 s before they are used, as `up`'s own
// prefetch already is one (network-manager.ts): the route table only rules
// out subnets, and the firewall view is of stack's own chains and rules. A
// command that needs no network change never asks for them, and then they
// cost it: a second `up` of a project that is up took ~35 ms longer with
// them (15 interleaved runs). So they are started only while no stack
// bridge exists on the host, where an `up` makes its networks.
import { readdirSync } from "node:fs";
import { setEarlyStart } from "../fs/early-start.js";
import { PerlHelper } from "../fs/perl-helper.js";
import { hostReadKey, readForwardFilterCommand, readRoutesCommand, readStackTableCommand } from "../network/host-reads.js";

/** The verbs that create containers, and so may create networks. */
const creatingVerbs = new Set(["up", "create"]);

/**
 * Starts the helper and the reads when `args` (the command line after
 * `stack`) names a verb that creates containers, and no stack bridge is in
 * `netDir` (the host's interfaces) yet.
 */
export function prestart(args: string[], netDir = "/sys/class/net"): void {
  if (process.getuid?.() !== 0 || !args.some((a) => creatingVerbs.has(a)) || anyStackLink(netDir)) return;
  const helper = PerlHelper.create();
  if (!helper) return;
  const results = new Map<string, ReturnType<PerlHelper["run"]>>();
  for (const read of [readRoutesCommand, readStackTableCommand, readForwardFilterCommand]) {
    const result = helper.run(read.argv, read.input === undefined ? {} : { input: read.input });
    result.catch(() => undefined); // asked again by whoever needs it (network-manager reads again on failure)
    results.set(hostReadKey(read), result);
  }
  setEarlyStart({ commands: helper, results });
}

/** Whether an interface of stack's (a bridge or a veth, `stk…`) is in `netDir`. */
function anyStackLink(netDir: string): boolean {
  try {
    return readdirSync(netDir).some((name) => name.startsWith("stk"));
  } catch {
    return false;
  }
}
