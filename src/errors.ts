// The error vocabulary of stack. Every module throws one of these few
// categories; only the CLI edge (src/cli/main.ts) maps them to exit codes and
// prints them. A message names the file:line:col or the dotted path, quotes
// the bad value, and says what to do (the hint).

export type ErrorCategory =
  | "invalid-input"
  | "not-found"
  | "conflict"
  | "unsupported"
  | "system"
  | "internal";

export interface StackErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Several problems found at once (all of a file's validation errors). */
  problems?: string[];
}

/**
 * Marks stack's errors across copies of this module: bin/stack runs a small
 * script of its own before the CLI's (src/cli/prestart.ts), and what it
 * started (a perl helper) fails with that script's copy of these classes.
 */
const stackErrorBrand = Symbol.for("stack.error");

export abstract class StackError extends Error {
  abstract readonly category: ErrorCategory;
  readonly [stackErrorBrand] = true;
  readonly hint?: string;
  readonly problems: string[];

  constructor(message: string, options: StackErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.problems = options.problems ?? [];
  }
}

/** The user's input (a file, a flag, a value) is wrong. Exit code 1. */
export class InvalidInputError extends StackError {
  readonly category = "invalid-input" as const;
}

/** Something named does not exist (service, image, container, file). */
export class NotFoundError extends StackError {
  readonly category = "not-found" as const;
}

/** The request collides with existing state (a port in use, a lock held). */
export class ConflictError extends StackError {
  readonly category = "conflict" as const;
}

/** Valid, but stack (or this host) cannot do it. */
export class UnsupportedError extends StackError {
  readonly category = "unsupported" as const;
}

/** A system effect failed (mount, runc, ip, cgroupfs, network). */
export class SystemError extends StackError {
  readonly category = "system" as const;
}

/** A bug in stack: asks for a report. */
export class InternalError extends StackError {
  readonly category = "internal" as const;
  constructor(message: string, options: StackErrorOptions = {}) {
    super(message, {
      ...options,
      hint: options.hint ?? "this is a bug in stack; please report it with the command you ran (STACK_DEBUG=1 shows the trace)",
    });
  }
}

/** Exit codes by category, as the CLI returns them. */
export const exitCodeFor: Record<ErrorCategory, number> = {
  "invalid-input": 1,
  "not-found": 1,
  conflict: 1,
  unsupported: 1,
  system: 1,
  internal: 70,
};

export function isStackError(e: unknown): e is StackError {
  return e instanceof StackError || (e instanceof Error && (e as { [stackErrorBrand]?: unknown })[stackErrorBrand] === true);
}
