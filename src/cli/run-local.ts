// `stack run` done by this process without commander: bin/stack comes here
// when no supervisor took the run (run-handoff.ts). The command line is read
// by run-argv.ts, the reader the warm path and the supervisor already share:
// it answers only for the plain spellings of run's options, so anything else
// (help, an unknown or combined option, `--x=y`, --dry-run, -v) answers
// undefined and goes to commander as it always did. Loading the CLI's main
// (commander and every command's registration, ~170 KB in the bundle),
// building commander's program and parsing with it is ~10–20 ms of a cold
// `stack run`, whose goal is 3x a bare `runc run` (issue 3); the bundle has
// this module as an entry of its own (scripts/bundle-cli.mjs).
//
// Errors are printed and mapped to exit codes as main.ts does; the caller
// (bin/stack) flushes the streams and exits.
import { exitCodeFor, isStackError } from "../errors.js";
import { contextOf } from "./context.js";
import { formatError } from "./format-error.js";
import { parseRunInvocation } from "./run-argv.js";
import { runRun } from "./verbs/exec.js";

/** `args` is what follows `node bin/stack`; undefined: not a command line this reader takes (use commander). */
export async function runWithoutCommander(args: readonly string[]): Promise<number | undefined> {
  const inv = parseRunInvocation(args);
  if (!inv) return undefined;
  preloadRunModules();
  try {
    return await runRun(contextOf(inv.globals), inv.service, inv.command, inv.flags);
  } catch (e) {
    process.stderr.write(formatError(e, process.env.STACK_DEBUG === "1"));
    return isStackError(e) ? exitCodeFor[e.category] : 70;
  }
}

/**
 * Starts loading, all at once, the modules a run imports one after the
 * other as it goes (each import waits for its file reads before the next
 * one starts): the reads then overlap, and each later import finds its
 * module loaded or on the way. Failures are left to the import that needs
 * the module.
 */
function preloadRunModules(): void {
  const modules = [
    import("./project.js"),
    import("./model-cache.js"),
    import("./progress.js"),
    import("../engine/wiring.js"),
    import("../engine/lock.js"),
    import("../network/network-manager.js"),
    import("../network/host-system.js"),
    import("../network/host-files.js"),
    import("../network/service-networks.js"),
    import("../runtime/index.js"),
    import("../supervisor/client.js"),
    import("../supervisor/container-spec.js"),
    import("../supervisor/paths.js"),
    import("../schema/hash.js"),
    import("../graph/graph.js"),
    import("../image/store/index.js"),
    import("../engine/image-policy.js"),
    import("../image/registry/pull-record.js"),
  ];
  for (const m of modules) m.catch(() => undefined);
}
