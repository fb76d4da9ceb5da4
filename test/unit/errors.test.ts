import { describe, expect, it } from "vitest";
import { InvalidInputError, InternalError, exitCodeFor } from "../../src/errors.js";
import { formatError } from "../../src/cli/main.js";

describe("error formatting at the CLI edge", () => {
  const cases = [
    {
      name: "invalid input with hint",
      error: new InvalidInputError('compose.yaml:3:5: services.web.image: 42 is not a string', { hint: "quote it" }),
      expected: 'error: compose.yaml:3:5: services.web.image: 42 is not a string\nhint: quote it\n',
    },
    {
      name: "several problems",
      error: new InvalidInputError("2 problems in compose.yaml", { problems: ["a: bad", "b: bad"] }),
      expected: "error: a: bad\nb: bad\n2 problems in compose.yaml\n",
    },
    {
      name: "internal error asks for a report",
      error: new InternalError("graph lost a node"),
      expected: "error: graph lost a node\nhint: this is a bug in stack; please report it with the command you ran (STACK_DEBUG=1 shows the trace)\n",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(formatError(c.error, false)).toBe(c.expected);
    });
  }

  it("never prints a trace for a plain Error unless debugging", () => {
    const out = formatError(new Error("boom"), false);
    expect(out).toContain("error: unexpected failure: boom");
    expect(out).not.toContain("    at ");
  });

  it("maps categories to exit codes", () => {
    expect(exitCodeFor["invalid-input"]).toBe(1);
    expect(exitCodeFor.internal).toBe(70);
  });
});

describe("stack's errors from another copy of errors.js", () => {
  // bin/stack's prestart script carries its own copy (src/cli/prestart.ts): what fails there is still stack's error.
  it("are told apart by their brand, and printed without a trace", async () => {
    // The same file under another URL: a second module instance, with classes of its own.
    const copy = (await import(/* @vite-ignore */ `${new URL("../../src/errors.ts", import.meta.url).href}?copy`)) as typeof import("../../src/errors.js");
    const { isStackError, SystemError } = await import("../../src/errors.js");
    const foreign = new copy.SystemError("the perl helper ended (exit 2)", { hint: "perl must run" });
    expect(foreign).not.toBeInstanceOf(SystemError);
    expect(isStackError(foreign)).toBe(true);
    expect(formatError(foreign, false)).toBe("error: the perl helper ended (exit 2)\nhint: perl must run\n");
    expect(isStackError(new Error("plain"))).toBe(false);
  });
});
