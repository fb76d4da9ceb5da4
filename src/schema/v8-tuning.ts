// V8 settings for commands that make one cold pass over a stack file and
// exit (`stack config`). V8's optimizing compiler (TurboFan) compiles the
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

/** Whether the optimizing compiler is off (turnOptimizerOff ran, and turnOptimizerOn did not since). */
export function isOptimizerOff(): boolean {
  return optimizerOff;
}
