// How a failure is printed: "error: …" lines, the hint, the trace with
// STACK_DEBUG=1. Its own module: the supervisor prints a warm run's errors
// with it and need not load commander with the CLI's main.
import { isStackError } from "../errors.js";

export function formatError(e: unknown, debug: boolean): string {
  if (isStackError(e)) {
    const lines: string[] = [];
    if (e.problems.length > 0) {
      lines.push(...e.problems);
      if (e.message) lines.push(e.message);
    } else {
      lines.push(e.message);
    }
    if (e.hint) lines.push(`hint: ${e.hint}`);
    if (debug && e.stack) lines.push(e.stack);
    return lines.map((l) => `${l}\n`).join("").replace(/^/, "error: ");
  }
  const err = e as Error;
  const msg = `error: unexpected failure: ${err?.message ?? String(e)}\nhint: this is a bug in stack; please report it (STACK_DEBUG=1 shows the trace)\n`;
  return debug && err?.stack ? msg + err.stack + "\n" : msg;
}
