// V8 settings of the process, for commands that make one cold pass over a
// stack file and exit (`stack config`, `stack ps`, a cached `stack build`). V8's optimizing compiler (TurboFan) compiles the
// functions that run most, on a second thread, so that they run faster
// later; such a command has no "later", and on a loaded 2-core machine that
// thread takes CPU from everyone (on the bench file: ~120 ms of CPU, ~8% of
// the instructions of the whole run, for no gain in wall time). The
// interpreter and the baseline compiler still run everything.
//
// The bundled CLI runs the schema stages from a script with a V8 code cache
// (scripts/bundle-cli.mjs); a cache is only accepted under the V8 flags it
// was made with, so the bundle has one cache per setting and asks this
// module which one applies.
import { setFlagsFromString } from "node:v8";

let optimizerOff = false;

/** Turns V8's optimizing compiler off for the rest of this process. */
export function turnOptimizerOff(): void {
  if (optimizerOff) return;
  setFlagsFromString("--no-opt");
  optimizerOff = true;
}

/** Turns it back on (for work that loops long enough to gain from it); a later cache choice then follows. */
export function turnOptimizerOn(): void {
  if (!optimizerOff) return;
  setFlagsFromString("--opt");
  optimizerOff = false;
}

/**
 * Keeps V8's young generation at the size it starts with (1 MB semi-spaces)
 * for the rest of this process, rather than letting it double after each
 * young-generation GC in which much survived.
 *
 * A command that reads one stack file and exits keeps nearly everything it
 * makes (the parsed file, its interpolated copy, the model, the output), so
 * a larger young generation saves it little copying; but every page of it is
 * fresh memory, and a first touch of a page is a page fault — on the
 * development VM ~15-30 µs each (`node -e 'Buffer.allocUnsafe(1e8).fill(1)'`:
 * 24,000 faults, ~0.5 s). `stack config` on the bench file: ~1,200 faults
 * (of ~7,200) fewer.
 *
 * V8 reads this flag whenever it considers growing the young generation
 * (the sizes themselves are fixed when the heap is set up, before any
 * JavaScript runs). Like every V8 flag it is part of the hash a code cache
 * is checked against: call it after the config-path script has been
 * compiled with its cache (scripts/bundle-cli.mjs).
 */
export function keepYoungGenerationSmall(): void {
  if (youngGenerationSmall) return;
  setFlagsFromString("--semi-space-growth-factor=1");
  youngGenerationSmall = true;
}

let youngGenerationSmall = false;

/** Whether the optimizing compiler is off (turnOptimizerOff ran, and turnOptimizerOn did not since). */
export function isOptimizerOff(): boolean {
  return optimizerOff;
}
