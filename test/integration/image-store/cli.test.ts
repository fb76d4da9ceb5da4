// `stack image …` and `stack images` through the built CLI, as a user runs
// them, with the state dir in a temporary folder.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { busyboxRootfsTar } from "../../helpers/busybox-image.js";
import { runStack, stackBin } from "../../helpers/cli.js";
import type { HostSnapshot } from "../../helpers/leaks.js";
// Scoped to this test's folder: concurrent tests of other layers make netns, links and cgroups.
import { assertNoOwnLeaks, snapshotOwn } from "../registry/own-leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";

let dir: string;
let env: Record<string, string>;
let before: HostSnapshot;

describe.skipIf(skipUnlessRoot("image CLI tests"))("stack image CLI", () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-image-cli-"));
    env = { STACK_STATE_DIR: join(dir, "state"), STACK_RUN_DIR: join(dir, "run"), PATH: process.env.PATH ?? "/usr/bin:/bin" };
    before = snapshotOwn(dir);
  });
  afterEach(() => {
    assertNoOwnLeaks(before, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("imports from a file and from stdin, lists, inspects and removes", async () => {
    const tarPath = join(dir, "rootfs.tar.gz");
    writeFileSync(tarPath, await busyboxRootfsTar({ gzip: true }));
    const imported = await runStack(["image", "import", "--change", 'CMD ["sh"]', "-c", "ENV A=1", "-m", "first", "rootfs.tar.gz", "bb:1"], { cwd: dir, env });
    expect(imported.stderr).toBe("");
    expect(imported.exitCode).toBe(0);
    const id = imported.stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);

    const zst = execFileSync("zstd", ["-q", "-c"], { input: await busyboxRootfsTar(), maxBuffer: 64 << 20 });
    writeFileSync(join(dir, "rootfs.tar.zst"), zst);
    // stdin carries binary: feed it from a file through the shell.
    const viaPipe = execFileSync("sh", ["-c", `"${process.execPath}" "${stackBin}" image import - localhost:5000/team/bb < "${join(dir, "rootfs.tar.zst")}"`], { env });
    expect(viaPipe.toString()).toMatch(/^sha256:/);

    const table = await runStack(["images"], { env });
    expect(table.exitCode).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual(
      expect.arrayContaining([["bb", "1", id.slice(7, 19)], ["localhost:5000/team/bb", "latest", expect.stringMatching(/^[0-9a-f]{12}$/)]]),
    );
    expect(lines).toHaveLength(3);

    const quiet = await runStack(["image", "ls", "-q"], { env });
    expect(quiet.stdout.trim().split("\n")).toContain(id.slice(7, 19));
    const json = await runStack(["image", "ls", "--format", "json"], { env });
    const objects = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);
    expect(objects.find((o) => o.Repository === "bb")).toMatchObject({ Tag: "1", ID: id.slice(7, 19) });

    const inspect = await runStack(["image", "inspect", "bb:1"], { env });
    expect(inspect.exitCode).toBe(0);
    const [view] = JSON.parse(inspect.stdout) as Array<{ Id: string; RepoTags: string[]; Config: { Cmd: string[]; Env: string[] }; History: Array<{ comment?: string }>; GraphDriver: { Data: { LowerDirs: string[] } } }>;
    expect(view!.Id).toBe(id);
    expect(view!.RepoTags).toEqual(["bb:1"]);
    expect(view!.Config).toEqual({ Cmd: ["sh"], Env: ["A=1"] });
    expect(view!.History[0]!.comment).toBe("first");
    expect(existsSync(join(view!.GraphDriver.Data.LowerDirs[0]!, "bin/busybox"))).toBe(true);

    const rm = await runStack(["image", "rm", "bb:1", "localhost:5000/team/bb"], { env });
    expect(rm.exitCode).toBe(0);
    expect(rm.stdout).toMatch(/^Untagged: bb:1\nDeleted: sha256:[0-9a-f]{64}\nUntagged: localhost:5000\/team\/bb:latest\nDeleted: sha256:/);
    expect((await runStack(["images", "-q"], { env })).stdout).toBe("");
    expect(readdirSync(join(dir, "state/layers"))).toEqual([]);
  });

  it("two import processes at once both land, sharing one unpacked layer", async () => {
    writeFileSync(join(dir, "rootfs.tar.gz"), await busyboxRootfsTar({ gzip: true }));
    const runs = await Promise.all(["one:1", "two:1", "three:1"].map((name) => runStack(["image", "import", "rootfs.tar.gz", name], { cwd: dir, env })));
    for (const r of runs) expect(r.stderr).toBe("");
    const json = await runStack(["images", "--format", "json"], { env });
    expect(json.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { Repository: string }).Repository).sort()).toEqual(["one", "three", "two"]);
    expect(readdirSync(join(dir, "state/layers"))).toHaveLength(1);
    expect(readdirSync(join(dir, "state/images/ingest"))).toEqual([]);
    expect(existsSync(join(dir, "state/images/lock"))).toBe(false);
  });

  it.each([
    { args: ["image", "import", "missing.tar", "x:1"], error: /error: import: "missing.tar" is not a file\nhint: / },
    { args: ["image", "import", "rootfs.tar", "Bad:Name"], error: /error: invalid image reference "Bad:Name": repository names must be lower case/ },
    { args: ["image", "import", "--change", "RUN x", "rootfs.tar", "x:1"], error: /invalid --change "RUN x"/ },
    { args: ["image", "import", "bad.tar", "x:1"], error: /error: refusing archive entry "..\/x": a ".." component/ },
    { args: ["image", "rm", "nope"], error: /error: no such image: "nope"\nhint: `stack images` lists the local images/ },
    { args: ["image", "inspect", "nope"], error: /error: no such image: "nope"/ },
    { args: ["images", "--format", "xml"], error: /--format: "xml" is not an image list format/ },
  ])("fails clearly: $args", async ({ args, error }) => {
    writeFileSync(join(dir, "rootfs.tar"), await busyboxRootfsTar());
    const { makeTar } = await import("../../helpers/busybox-image.js");
    writeFileSync(join(dir, "bad.tar"), await makeTar([{ name: "../x", content: "x" }]));
    const r = await runStack(args, { cwd: dir, env });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(error);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, "x"))).toBe(false);
  });
});
