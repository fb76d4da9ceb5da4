// The perl helper starts runc with GOMAXPROCS=1 unless the user set one
// (helperEnv in src/fs/perl-helper.ts): read from the environment of a
// running container's `runc run`. Neither the container nor the stack file's
// interpolation sees it.
import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import { skipUnlessRoot } from "../../helpers/root.js";
import { IMAGE, makeProject, type Project } from "./harness.js";

/** The environment of each `runc … run …` process whose command line names `runDir`. */
function runcEnvironments(runDir: string): Map<string, string>[] {
  const found: Map<string, string>[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    let argv: string[];
    let environ: string;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      environ = readFileSync(`/proc/${pid}/environ`, "utf8");
    } catch {
      continue; // ended meanwhile
    }
    if (!/(^|\/)runc$/.test(argv[0] ?? "") || !argv.includes("run") || !argv.some((a) => a.startsWith(runDir))) continue;
    found.push(new Map(environ.split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])));
  }
  return found;
}

describe.skipIf(skipUnlessRoot("runtime environment tests"))("the environment stack gives runc", () => {
  let p: Project | undefined;
  afterEach(async () => {
    await p?.dispose();
    p = undefined;
  });

  test("GOMAXPROCS=1 for runc unless the user set one, never in the container or the stack file", async () => {
    p = await makeProject("runtime-env");
    p.write(`
services:
  a:
    image: ${IMAGE}
    environment:
      FROM_FILE: \${GOMAXPROCS:-unset}
    command: sh -c 'echo "gomaxprocs=[$$GOMAXPROCS] file=[$$FROM_FILE]"; sleep 3600'
`);
    delete p.env.GOMAXPROCS;
    const up = await p.stack(["up", "-d"]);
    expect(up.exitCode, up.stderr).toBe(0);
    const envs = runcEnvironments(p.runDir);
    expect(envs).toHaveLength(1);
    expect(envs[0]!.get("GOMAXPROCS")).toBe("1");
    let logs = "";
    for (let i = 0; i < 50 && !logs.includes("gomaxprocs="); i++) {
      logs = (await p.stack(["logs", "--no-log-prefix"])).stdout;
      if (!logs.includes("gomaxprocs=")) await new Promise((r) => setTimeout(r, 100));
    }
    expect(logs).toContain("gomaxprocs=[] file=[unset]");

    // The user's own value is kept (a recreate starts a new runc).
    p.env.GOMAXPROCS = "2";
    const again = await p.stack(["up", "-d", "--force-recreate"]);
    expect(again.exitCode, again.stderr).toBe(0);
    const after = runcEnvironments(p.runDir);
    expect(after).toHaveLength(1);
    expect(after[0]!.get("GOMAXPROCS")).toBe("2");
  });
});
