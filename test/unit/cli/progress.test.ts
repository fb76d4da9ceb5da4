import { describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { createProgress, formatEvent, resolveProgressMode } from "../../../src/cli/progress.js";

function capture() {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d) => (text += String(d)));
  return { out, text: () => text };
}

describe("progress", () => {
  const cases = [
    { e: { service: "db", container: "p-db-1", phase: "started" as const, elapsedMs: 1234 }, expected: " Container p-db-1  Started  1.2s" },
    { e: { service: "db", container: "p-db-1", phase: "recreating" as const, detail: "changed: image" }, expected: " Container p-db-1  Recreating  changed: image" },
    { e: { service: "", container: "p_data", phase: "removed" as const, detail: "volume" }, expected: " Volume p_data  Removed" },
  ];
  for (const c of cases) it(`formats ${c.e.phase}`, () => expect(formatEvent(c.e)).toBe(c.expected));

  it("chooses plain output when not a terminal, unless told", () => {
    expect(resolveProgressMode(undefined, false)).toBe("plain");
    expect(resolveProgressMode("auto", true)).toBe("tty");
    expect(resolveProgressMode("json", true)).toBe("json");
  });

  it("plain mode prints a waiting line once per container", async () => {
    const c = capture();
    const p = createProgress("plain", c.out);
    for (let i = 0; i < 3; i++) p.sink({ service: "db", container: "p-db-1", phase: "waiting" });
    p.sink({ service: "db", container: "p-db-1", phase: "healthy" });
    await p.close();
    expect(c.text()).toBe(" Container p-db-1  Waiting\n Container p-db-1  Healthy\n");
  });

  it("json mode prints one object per event; quiet prints nothing", async () => {
    const c = capture();
    const p = createProgress("json", c.out);
    p.sink({ service: "db", container: "p-db-1", phase: "started" });
    expect(JSON.parse(c.text())).toEqual({ service: "db", container: "p-db-1", phase: "started" });
    const q = capture();
    createProgress("quiet", q.out).sink({ service: "db", container: "p-db-1", phase: "started" });
    expect(q.text()).toBe("");
  });
});
