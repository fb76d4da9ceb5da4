// Recording fakes of the runtime's effect interfaces: tests assert on what
// would be mounted, written and run.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CgroupFs } from "../../../src/runtime/cgroup.js";
import type { CommandResult, CommandRunner } from "../../../src/fs/command-runner.js";
import type { Mounter } from "../../../src/runtime/mounter.js";
import type { MountDescription } from "../../../src/runtime/overlay.js";
import type { RuntimeDeps } from "../../../src/runtime/container.js";
import { OciRuntime } from "../../../src/runtime/oci-runtime.js";

/** An in-memory cgroupfs: files and directories by absolute path. */
export class FakeCgroupFs implements CgroupFs {
  files = new Map<string, string>();
  dirs = new Set<string>();
  writes: Array<[string, string]> = [];
  removed: string[] = [];

  constructor(initial: Record<string, string> = {}, dirs: string[] = []) {
    for (const [k, v] of Object.entries(initial)) this.files.set(k, v);
    for (const d of dirs) this.dirs.add(d);
  }
  read(path: string): string {
    const v = this.files.get(path);
    if (v === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
    return v;
  }
  write(path: string, value: string): void {
    if (!this.dirs.has(dirname(path))) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
    this.writes.push([path, value]);
    this.files.set(path, value);
  }
  mkdir(path: string): void {
    let p = path;
    while (p !== "/" && !this.dirs.has(p)) {
      this.dirs.add(p);
      p = dirname(p);
    }
  }
  rmdir(path: string): boolean {
    if (!this.dirs.has(path)) return false;
    if (this.subdirs(path).length > 0) throw Object.assign(new Error(`ENOTEMPTY: ${path}`), { code: "ENOTEMPTY" });
    this.dirs.delete(path);
    this.removed.push(path);
    return true;
  }
  subdirs(path: string): string[] {
    return [...this.dirs].filter((d) => dirname(d) === path).map((d) => d.slice(path.length + 1)).sort();
  }
  exists(path: string): boolean {
    return this.dirs.has(path) || this.files.has(path);
  }
}

export class FakeMounter implements Mounter {
  mounted: MountDescription[] = [];
  log: string[] = [];
  async mount(m: MountDescription, fifos: string[] = []): Promise<void> {
    for (const f of fifos) writeFileSync(f, "");
    this.mounted.push(m);
    this.log.push(`mount ${m.type} ${m.target}`);
  }
  async unmount(target: string): Promise<void> {
    this.mounted = this.mounted.filter((m) => m.target !== target);
    this.log.push(`umount ${target}`);
  }
  mountsUnder(prefix: string): string[] {
    return this.mounted.map((m) => m.target).filter((t) => t === prefix || t.startsWith(`${prefix}/`));
  }
}

/** Runs nothing; answers from `respond`, records every argv. */
export class FakeRunner implements CommandRunner {
  calls: string[][] = [];
  detached: string[][] = [];
  constructor(
    private readonly respond: (argv: string[]) => Partial<CommandResult> = () => ({}),
    private readonly onDetached: (argv: string[]) => void = () => undefined,
  ) {}
  async run(argv: string[]): Promise<CommandResult> {
    this.calls.push(argv);
    if (argv[0] === "mkfifo") for (const f of argv.slice(3)) writeFileSync(f, "");
    return { exitCode: 0, stdout: "", stderr: "", ...this.respond(argv) };
  }
  async runInherit(argv: string[]): Promise<number> {
    this.calls.push(argv);
    return 0;
  }
  spawnDetached(argv: string[]): number {
    this.detached.push(argv);
    this.onDetached(argv);
    return 4242;
  }
}

/**
 * A ContainerRuntime's dependencies for unit tests: state and run folders
 * under `base`, a v1 cgroup tree of fakes, a fake mounter, runc through
 * `runner`, no signals, no waiting, an x86-64 host; `overrides` replace any.
 */
export function fakeRuntimeDeps(base: string, runner: FakeRunner, overrides: Partial<RuntimeDeps> = {}): RuntimeDeps {
  return {
    stateDir: join(base, "state"),
    runDir: join(base, "run"),
    cgroupRoot: "/cg",
    cgroupVersion: 1,
    cgroupFs: new FakeCgroupFs({}, ["/cg", "/cg/memory", "/cg/pids"]),
    mounter: new FakeMounter(),
    runner,
    runtime: new OciRuntime(runner, { name: "runc", binary: "/usr/sbin/runc" }, join(base, "run", "runc")),
    signal: () => undefined,
    sleep: async () => undefined,
    hostRlimits: {},
    arch: "x64",
    statDevice: () => undefined,
    ...overrides,
  };
}
