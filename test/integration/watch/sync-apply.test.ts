// The sync executor on real folders: type changes, vanished sources, links in
// the container that point outside it, and cleanup of staged files on failure.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applySync, readHostEntries } from "../../../src/watch/sync-apply.js";
import { planSync } from "../../../src/watch/sync-plan.js";
import { resolveInRootfs } from "../../../src/watch/rootfs-path.js";
import { makeRootfs, removeDir, tempDir } from "./harness.js";

let base: string;
let host: string;
let rootfs: string;
const me = { uid: process.getuid!(), gid: process.getgid!() };

beforeEach(() => {
  base = tempDir("apply");
  host = join(base, "host");
  mkdirSync(host);
  rootfs = makeRootfs(base);
});
afterEach(() => removeDir(base));

async function sync(paths: string[]) {
  const entries = await readHostEntries(paths.map((p) => join(host, p)));
  const plan = planSync([{ rule: { path: host, target: "/app", sharedHostDirs: [], hiddenTargets: [] }, entries }]);
  return applySync(plan, { rootfs, ...me, container: "c1" });
}

describe("applySync", () => {
  it("replaces a directory by a file and a file by a directory", async () => {
    mkdirSync(join(rootfs, "app", "was-dir", "x"), { recursive: true });
    writeFileSync(join(rootfs, "app", "was-file"), "f");
    writeFileSync(join(host, "was-dir"), "now a file");
    mkdirSync(join(host, "was-file"));
    writeFileSync(join(host, "was-file", "inner"), "i");
    const r = await sync(["was-dir", "was-file", "was-file/inner"]);
    expect(readFileSync(join(rootfs, "app", "was-dir"), "utf8")).toBe("now a file");
    expect(readFileSync(join(rootfs, "app", "was-file", "inner"), "utf8")).toBe("i");
    expect(r).toMatchObject({ written: 2 });
  });

  it("treats a source deleted before it is copied as a delete", async () => {
    writeFileSync(join(rootfs, "app", "gone"), "old");
    const entries = [{ path: join(host, "gone"), type: "file" as const, mode: 0o644 }];
    const plan = planSync([{ rule: { path: host, target: "/app", sharedHostDirs: [], hiddenTargets: [] }, entries }]);
    const r = await applySync(plan, { rootfs, ...me, container: "c1" });
    expect(existsSync(join(rootfs, "app", "gone"))).toBe(false);
    expect(r).toEqual({ written: 0, removed: 1, dirs: 0 });
  });

  it("copies a link as a link and keeps the mode", async () => {
    writeFileSync(join(host, "run.sh"), "#!/bin/sh\n");
    chmodSync(join(host, "run.sh"), 0o750);
    symlinkSync("/etc/passwd", join(host, "pw"));
    await sync(["run.sh", "pw"]);
    expect(lstatSync(join(rootfs, "app", "run.sh")).mode & 0o7777).toBe(0o750);
    expect(readlinkSync(join(rootfs, "app", "pw"))).toBe("/etc/passwd");
  });

  it("resolves links and .. inside the rootfs", async () => {
    mkdirSync(join(rootfs, "real"));
    symlinkSync("../../../../real", join(rootfs, "rel"));
    symlinkSync("/real", join(rootfs, "abs"));
    expect(await resolveInRootfs(rootfs, "/rel/x")).toBe(join(rootfs, "real", "x"));
    expect(await resolveInRootfs(rootfs, "/abs/x")).toBe(join(rootfs, "real", "x"));
    expect(await resolveInRootfs(rootfs, "/../../etc/x")).toBe(join(rootfs, "etc", "x"));
    expect(await resolveInRootfs(rootfs, "/missing/x")).toBeUndefined();
    symlinkSync("loop", join(rootfs, "loop"));
    await expect(resolveInRootfs(rootfs, "/loop/x")).rejects.toThrow(/too many levels of symbolic links/);
  });

  it("removes its staged files when a copy fails, and applies nothing", async () => {
    writeFileSync(join(host, "a"), "a");
    writeFileSync(join(rootfs, "app", "a"), "old");
    const entries = [...(await readHostEntries([join(host, "a")])), { path: join(host, "unreadable"), type: "file" as const, mode: 0o644 }];
    // A directory as a copy source makes copyFile fail with EISDIR.
    mkdirSync(join(host, "unreadable"));
    const plan = planSync([{ rule: { path: host, target: "/app", sharedHostDirs: [], hiddenTargets: [] }, entries }]);
    await expect(applySync(plan, { rootfs, ...me, container: "c1" })).rejects.toThrow(/sync into c1 failed: .*nothing of this batch|sync into c1 failed/);
    expect(readFileSync(join(rootfs, "app", "a"), "utf8")).toBe("old");
    expect(readdirSync(join(rootfs, "app"))).toEqual(["a"]);
  });
});
