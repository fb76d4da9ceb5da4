// What a command had started before the CLI's script loaded: bin/stack runs
// src/cli/prestart.ts first for the verbs that start containers, so that a
// perl helper and the host reads `up` needs run on the other core while this
// Node still reads and compiles the CLI (~100 ms during which that core is
// otherwise idle). They are left here, on the global object: bin/stack loads
// prestart from a script of its own (dist/bundle/prestart.cjs), not from the
// CLI's, so no module state is shared between the two.
import type { CommandResult } from "./command-runner.js";

/** The perl helper started early (a PerlHelper of the prestart script's copy of src/fs/perl-helper.ts): its `run`, at least. */
export interface EarlyCommands {
  run(argv: string[], options?: { input?: string }): Promise<CommandResult>;
}

export interface EarlyStart {
  /** The perl helper, already started (null: taken). */
  commands: EarlyCommands | null;
  /** Results of reads started early, by key (taken once each). */
  results: Map<string, Promise<CommandResult>>;
}

const slot = Symbol.for("stack.early-start");

type Holder = { [slot]?: EarlyStart };

export function setEarlyStart(early: EarlyStart | undefined): void {
  (globalThis as Holder)[slot] = early;
}

/** The early result for `key`, once; undefined when none was started (or it was taken). */
export function takeEarlyResult(key: string): Promise<CommandResult> | undefined {
  const early = (globalThis as Holder)[slot];
  const r = early?.results.get(key);
  if (r) early!.results.delete(key);
  return r;
}

/** The early perl helper, once (perlHelper in src/fs/perl-helper.ts takes it). */
export function takeEarlyCommands(): EarlyCommands | undefined {
  const early = (globalThis as Holder)[slot];
  const c = early?.commands ?? undefined;
  if (early) early.commands = null;
  return c;
}
