// The model cache through loadProject, as every command but `config` loads a
// project: real files in a temp folder, the real loader. A hit is told from a
// miss by editing the stored entry: only a hit returns the edit.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CliContext } from "../../../src/cli/context.js";
import { loadProject } from "../../../src/cli/project.js";
import { newLoadRecord, recordingEnv } from "../../../src/cli/model-cache.js";

let root: string;
let dir: string;
let stateDir: string;
let warnings: string[];

const stackFile = "services:\n  web:\n    image: busybox:${TAG}\n    env_file: web.env\n  db:\n    image: postgres:16\n    environment:\n      - MODE=${UNSET_ONE}\n";

function ctx(env: Record<string, string | undefined> = { TAG: "1", HOME: "/root" }, globals: Partial<CliContext["globals"]> = {}): CliContext {
  return {
    globals: { file: [], profile: [], envFile: [], ...globals },
    env,
    cwd: dir,
    stdout: process.stdout,
    stderr: process.stderr,
    stateDir,
    runDir: join(root, "run"),
    warn: (m) => warnings.push(m),
  };
}

const entries = () => {
  try {
    return readdirSync(join(stateDir, "cache", "models")).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
};

/** Marks the one stored entry: a load that returns the mark came from the cache. */
function markEntry(): void {
  const [name] = entries();
  expect(name).toBeDefined();
  const path = join(stateDir, "cache", "models", name!);
  const entry = JSON.parse(readFileSync(path, "utf8"));
  entry.model.services.db.image = "marked:cache";
  writeFileSync(path, JSON.stringify(entry));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "stack-model-cache-"));
  dir = join(root, "project");
  mkdirSync(dir);
  writeFileSync(join(dir, "compose.yaml"), stackFile);
  writeFileSync(join(dir, "web.env"), "A=1\n");
  // Files changed within the last second are never cached (two writes in one timestamp tick).
  await sleep(1100);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeEach(() => {
  stateDir = mkdtempSync(join(root, "state-"));
  warnings = [];
});

describe("model cache", () => {
  it("stores a load and answers the next one with the same model and the same warnings", async () => {
    const first = await loadProject(ctx());
    expect(entries()).toHaveLength(1);
    const firstWarnings = [...warnings];
    expect(firstWarnings.some((w) => w.includes("UNSET_ONE"))).toBe(true);
    warnings = [];
    const second = await loadProject(ctx());
    expect(second.model).toStrictEqual(first.model);
    expect(warnings).toEqual(firstWarnings);
    markEntry();
    expect((await loadProject(ctx())).model.services.db!.image).toBe("marked:cache");
  });

  it("misses when a variable the load read changes, is set or is unset", async () => {
    await loadProject(ctx());
    markEntry();
    expect((await loadProject(ctx({ TAG: "2", HOME: "/root" }))).model.services.web!.image).toBe("busybox:2");
    markEntry();
    expect((await loadProject(ctx({ TAG: "2", HOME: "/root", UNSET_ONE: "x" }))).model.services.db!.environment.MODE).toBe("x");
  });

  it("hits when only variables the load never read change", async () => {
    await loadProject(ctx());
    markEntry();
    expect((await loadProject(ctx({ TAG: "1", HOME: "/root", OLDPWD: "/elsewhere", SHLVL: "3" }))).model.services.db!.image).toBe("marked:cache");
  });

  it("misses when a stack file or an env file changes, even to the same size", async () => {
    await loadProject(ctx());
    markEntry();
    writeFileSync(join(dir, "compose.yaml"), stackFile.replace("postgres:16", "postgres:15"));
    try {
      expect((await loadProject(ctx())).model.services.db!.image).toBe("postgres:15");
    } finally {
      writeFileSync(join(dir, "compose.yaml"), stackFile);
    }
    writeFileSync(join(dir, "web.env"), "A=2\n");
    try {
      expect((await loadProject(ctx())).model.services.web!.environment.A).toBe("2");
    } finally {
      writeFileSync(join(dir, "web.env"), "A=1\n");
    }
  });

  it("misses when a file the load looked for and did not find appears (an override file, .env)", async () => {
    await sleep(1100); // the files the test before rewrote are fresh again
    await loadProject(ctx());
    markEntry();
    writeFileSync(join(dir, "compose.override.yaml"), "services:\n  db:\n    image: postgres:14\n");
    try {
      expect((await loadProject(ctx())).model.services.db!.image).toBe("postgres:14");
    } finally {
      rmSync(join(dir, "compose.override.yaml"));
    }
    writeFileSync(join(dir, ".env"), "TAG=from-dotenv\n");
    try {
      expect((await loadProject(ctx({ HOME: "/root" }))).model.services.web!.image).toBe("busybox:from-dotenv");
    } finally {
      rmSync(join(dir, ".env"));
    }
  });

  it("does not store a load of files changed within the last second", async () => {
    writeFileSync(join(dir, "web.env"), "A=1\n");
    await loadProject(ctx());
    expect(entries()).toHaveLength(0);
  });

  it("keeps one entry per set of options (profiles, services, flags)", async () => {
    await sleep(1100);
    await loadProject(ctx());
    await loadProject(ctx(undefined, { profile: ["debug"] }));
    await loadProject(ctx(), { services: ["web"] });
    expect(entries()).toHaveLength(3);
  });

  it("is not used when the caller asks for a fresh load (`stack config`)", async () => {
    await loadProject(ctx(), { cache: false });
    expect(entries()).toHaveLength(0);
  });

  it("loads from the files when the entry is corrupt or the cache folder cannot be written", async () => {
    await loadProject(ctx());
    const [name] = entries();
    writeFileSync(join(stateDir, "cache", "models", name!), "{not json");
    expect((await loadProject(ctx())).model.services.db!.image).toBe("postgres:16");
    rmSync(join(stateDir, "cache"), { recursive: true });
    writeFileSync(join(stateDir, "cache"), "a file where the folder should be");
    expect((await loadProject(ctx())).model.services.db!.image).toBe("postgres:16");
  });

  it("removes entries written more than a week ago when it stores one", async () => {
    await loadProject(ctx());
    const models = join(stateDir, "cache", "models");
    writeFileSync(join(models, "0000000000000000-0000000000000000.json"), "{}");
    writeFileSync(join(models, "1111111111111111-1111111111111111.json"), "{}");
    const weekAgo = Date.now() / 1000 - 8 * 24 * 3600;
    utimesSync(join(models, "0000000000000000-0000000000000000.json"), weekAgo, weekAgo);
    await loadProject(ctx({ TAG: "3", HOME: "/root" }));
    expect(entries()).not.toContain("0000000000000000-0000000000000000.json");
    expect(entries()).toContain("1111111111111111-1111111111111111.json");
  });

  it("marks a load that enumerated the environment as not cacheable", () => {
    const record = newLoadRecord();
    const env = recordingEnv({ A: "1", B: undefined }, record);
    expect(env.A).toBe("1");
    expect("B" in env).toBe(false);
    expect(Object.hasOwn(env, "C")).toBe(false);
    expect(record).toEqual({ files: {}, env: { A: "1", B: null, C: null }, uncacheable: false });
    Object.keys(env);
    expect(record.uncacheable).toBe(true);
  });
});
