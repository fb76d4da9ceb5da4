import { describe, expect, it } from "vitest";
import { containerPathOf, planSync, type HostEntry, type SyncRuleSpec } from "../../../src/watch/sync-plan.js";

const rule = (over: Partial<SyncRuleSpec> = {}): SyncRuleSpec => ({ path: "/h/src", target: "/app", sharedHostDirs: [], hiddenTargets: [], ...over });

describe("containerPathOf", () => {
  it.each([
    ["/h/src", "/app"],
    ["/h/src/a/b.js", "/app/a/b.js"],
    ["/h/other", undefined],
  ])("%s → %s", (p, expected) => expect(containerPathOf(rule(), p)).toBe(expected));
  it("maps a file rule onto its target", () => expect(containerPathOf({ path: "/h/conf.ini", target: "/etc/app.ini" }, "/h/conf.ini")).toBe("/etc/app.ini"));
});

describe("planSync", () => {
  it("writes files, makes directories, removes deleted paths, in a safe order", () => {
    const entries: HostEntry[] = [
      { path: "/h/src/z.js", type: "file", mode: 0o100644 },
      { path: "/h/src/lib", type: "dir", mode: 0o40755 },
      { path: "/h/src/lib/deep", type: "dir", mode: 0o700 },
      { path: "/h/src/lib/a.sh", type: "file", mode: 0o755 },
      { path: "/h/src/old", type: "absent" },
      { path: "/h/src/old/x.js", type: "absent" },
      { path: "/h/src/gone.js", type: "absent" },
      { path: "/h/src/link", type: "symlink", link: "lib/a.sh" },
    ];
    expect(planSync([{ rule: rule(), entries }])).toEqual({
      ops: [
        { kind: "remove", target: "/app/gone.js" },
        { kind: "remove", target: "/app/old" },
        { kind: "mkdir", target: "/app/lib", mode: 0o755 },
        { kind: "mkdir", target: "/app/lib/deep", mode: 0o700 },
        { kind: "write", source: "/h/src/lib/a.sh", target: "/app/lib/a.sh", mode: 0o755 },
        { kind: "symlink", target: "/app/link", link: "lib/a.sh" },
        { kind: "write", source: "/h/src/z.js", target: "/app/z.js", mode: 0o644 },
      ],
      skipped: [],
    });
  });

  it("removes deepest first and drops removes below a removed directory", () => {
    const entries: HostEntry[] = ["/h/src/a", "/h/src/a/b", "/h/src/a-b/c", "/h/src/x/y/z"].map((path) => ({ path, type: "absent" as const }));
    expect(planSync([{ rule: rule(), entries }]).ops).toEqual([
      { kind: "remove", target: "/app/x/y/z" },
      { kind: "remove", target: "/app/a-b/c" },
      { kind: "remove", target: "/app/a" },
    ]);
  });

  it("removes the whole target when the watched directory goes", () => {
    expect(planSync([{ rule: rule(), entries: [{ path: "/h/src", type: "absent" }, { path: "/h/src/a", type: "absent" }] }]).ops).toEqual([{ kind: "remove", target: "/app" }]);
  });

  it("skips what a mount shares or hides, and special files", () => {
    const plan = planSync([
      {
        rule: rule({ sharedHostDirs: ["/h/src/public"], hiddenTargets: ["/app/cache"] }),
        entries: [
          { path: "/h/src/public/i.png", type: "file", mode: 0o644 },
          { path: "/h/src/cache/c", type: "file", mode: 0o644 },
          { path: "/h/src/fifo", type: "other" },
          { path: "/h/src/ok", type: "file", mode: 0o644 },
        ],
      },
    ]);
    expect(plan.ops).toEqual([{ kind: "write", source: "/h/src/ok", target: "/app/ok", mode: 0o644 }]);
    expect(plan.skipped.map((s) => [s.path, s.reason])).toEqual([
      ["/h/src/cache/c", "/app/cache/c would be hidden by the mount at /app/cache"],
      ["/h/src/fifo", "not a regular file, directory or symbolic link"],
      ["/h/src/public/i.png", "already in the container through a bind mount"],
    ]);
  });

  it("lets a later rule win for the same container path", () => {
    const plan = planSync([
      { rule: rule(), entries: [{ path: "/h/src/a", type: "file", mode: 0o644 }] },
      { rule: rule({ path: "/h/other" }), entries: [{ path: "/h/other/a", type: "absent" }] },
    ]);
    expect(plan.ops).toEqual([{ kind: "remove", target: "/app/a" }]);
  });

  it("plans 1,000 deletions quickly", () => {
    const entries: HostEntry[] = Array.from({ length: 1000 }, (_, i) => ({ path: `/h/src/d${i % 10}/f${i}`, type: "absent" as const }));
    const t = performance.now();
    const plan = planSync([{ rule: rule(), entries }]);
    expect(plan.ops).toHaveLength(1000);
    expect(performance.now() - t).toBeLessThan(500);
  });
});
