// The container's cgroup, owned by stack: `<root>/stack/<project>/<id>` on v2,
// `<root>/<controller>/stack/<project>/<id>` per controller on v1. stack makes
// it, writes the limits, and runc joins it (spec linux.cgroupsPath) without
// writing limits of its own. Every file access goes through CgroupFs, so
// unit tests point the manager at a fake and assert on what it wrote.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SystemError } from "../errors.js";
import { cgroupSettings, type CgroupVersion, type Limits } from "./cgroup-settings.js";

/** The narrow file interface to cgroupfs. Paths are absolute. */
export interface CgroupFs {
  read(path: string): string;
  write(path: string, value: string): void;
  mkdir(path: string): void;
  /** rmdir; returns false when the directory is absent. */
  rmdir(path: string): boolean;
  /** Names of the sub-directories ([] when absent). */
  subdirs(path: string): string[];
  exists(path: string): boolean;
}

export const realCgroupFs: CgroupFs = {
  read: (p) => readFileSync(p, "utf8"),
  write: (p, v) => writeFileSync(p, v),
  mkdir: (p) => mkdirSync(p, { recursive: true }),
  rmdir: (p) => {
    try {
      rmdirSync(p);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
  },
  subdirs: (p) => {
    try {
      return readdirSync(p, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    } catch {
      return [];
    }
  },
  exists: (p) => existsSync(p),
};

/** v2 when the root is a unified mount (has cgroup.controllers), else v1. */
export function detectCgroupVersion(fs: CgroupFs, root: string): CgroupVersion {
  return fs.exists(join(root, "cgroup.controllers")) ? 2 : 1;
}

export interface CgroupStats {
  /** Total CPU time used, nanoseconds. */
  cpuUsageNs: number;
  memoryUsage: number;
  /** Memory limit in bytes; undefined = unlimited. */
  memoryLimit?: number;
  pids: number;
  blkioReadBytes: number;
  blkioWriteBytes: number;
}

const V1_CONTROLLERS = ["blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"];
const V1_UNLIMITED = 0x7ffffffffffff000; // what the kernel reports for "no limit" (page aligned LONG_MAX)

export interface CgroupDeps {
  fs: CgroupFs;
  /** Sends a signal to a host pid; ignores processes that are gone. */
  signal: (pid: number, signal: NodeJS.Signals) => void;
  sleep: (ms: number) => Promise<void>;
}

export class ContainerCgroup {
  readonly version: CgroupVersion;
  /** "stack/<project>/<id>": the path relative to each hierarchy (spec linux.cgroupsPath gets a leading "/"). */
  readonly relative: string;

  constructor(
    private readonly deps: CgroupDeps,
    readonly root: string,
    readonly project: string,
    readonly id: string,
    version?: CgroupVersion,
  ) {
    this.version = version ?? detectCgroupVersion(deps.fs, root);
    this.relative = `stack/${project}/${id}`;
  }

  private dir(controller: string): string {
    return this.version === 2 ? join(this.root, this.relative) : join(this.root, controller, this.relative);
  }

  private file(rel: string): string {
    if (this.version === 2) return join(this.root, this.relative, rel);
    const [controller, name] = rel.split("/", 2);
    return join(this.root, controller!, this.relative, name!);
  }

  private controllers(): string[] {
    return this.version === 2 ? [""] : V1_CONTROLLERS.filter((c) => this.deps.fs.exists(join(this.root, c)));
  }

  /** Makes the directories and writes the limits. */
  create(limits: Limits): void {
    const { fs } = this.deps;
    try {
      if (this.version === 2) {
        let dir = this.root;
        for (const part of this.relative.split("/")) {
          // Each level must hand the controllers down to the next.
          const available = fs.read(join(dir, "cgroup.controllers")).trim().split(/\s+/).filter((c) => ["cpu", "cpuset", "io", "memory", "pids"].includes(c));
          if (available.length > 0) fs.write(join(dir, "cgroup.subtree_control"), available.map((c) => `+${c}`).join(" "));
          dir = join(dir, part);
          fs.mkdir(dir);
        }
      } else {
        for (const c of this.controllers()) {
          if (c === "cpuset") this.createCpuset();
          else fs.mkdir(this.dir(c));
        }
      }
      for (const w of cgroupSettings(limits, this.version)) fs.write(this.file(w.file), w.value);
    } catch (e) {
      throw new SystemError(`cannot set up cgroup ${this.relative} under ${this.root}: ${(e as Error).message}`, {
        cause: e,
        hint: "check that cgroupfs is mounted read-write and the limit values are valid on this host",
      });
    }
  }

  /** A v1 cpuset starts empty and then accepts no task: copy the parent's cpus and mems down each level. */
  private createCpuset(): void {
    const { fs } = this.deps;
    let dir = join(this.root, "cpuset");
    for (const part of this.relative.split("/")) {
      const child = join(dir, part);
      fs.mkdir(child);
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        if (fs.read(join(child, f)).trim() === "") fs.write(join(child, f), fs.read(join(dir, f)).trim());
      }
      dir = child;
    }
  }

  pids(): number[] {
    const file = this.version === 2 ? this.file("cgroup.procs") : this.file("pids/cgroup.procs");
    try {
      return this.deps.fs.read(file).split("\n").filter((l) => l.trim() !== "").map(Number).sort((a, b) => a - b);
    } catch {
      return [];
    }
  }

  /** How many processes of the group the kernel's OOM killer has killed. */
  oomKills(): number {
    try {
      const text = this.version === 2 ? this.deps.fs.read(this.file("memory.events")) : this.deps.fs.read(this.file("memory/memory.oom_control"));
      const m = /^oom_kill (\d+)$/m.exec(text);
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  stats(): CgroupStats {
    const { fs } = this.deps;
    const num = (path: string) => {
      try {
        const t = fs.read(path).trim();
        return t === "max" ? Infinity : Number(t);
      } catch {
        return 0;
      }
    };
    if (this.version === 2) {
      const cpu = /^usage_usec (\d+)$/m.exec(safeRead(fs, this.file("cpu.stat")));
      const limit = num(this.file("memory.max"));
      const io = sumIoStat(safeRead(fs, this.file("io.stat")));
      return {
        cpuUsageNs: cpu ? Number(cpu[1]) * 1000 : 0,
        memoryUsage: num(this.file("memory.current")),
        ...(limit === Infinity || limit === 0 ? {} : { memoryLimit: limit }),
        pids: num(this.file("pids.current")),
        blkioReadBytes: io.read,
        blkioWriteBytes: io.write,
      };
    }
    const limit = num(this.file("memory/memory.limit_in_bytes"));
    const blk = sumBlkio(safeRead(fs, this.file("blkio/blkio.throttle.io_service_bytes_recursive")));
    return {
      cpuUsageNs: num(this.file("cpuacct/cpuacct.usage")),
      memoryUsage: num(this.file("memory/memory.usage_in_bytes")),
      ...(limit >= V1_UNLIMITED || limit === 0 ? {} : { memoryLimit: limit }),
      pids: num(this.file("pids/pids.current")),
      blkioReadBytes: blk.read,
      blkioWriteBytes: blk.write,
    };
  }

  async freeze(): Promise<void> {
    await this.setFrozen(true);
  }

  async thaw(): Promise<void> {
    await this.setFrozen(false);
  }

  frozen(): boolean {
    const { fs } = this.deps;
    if (this.version === 2) return /^frozen 1$/m.test(safeRead(fs, this.file("cgroup.events")));
    return safeRead(fs, this.file("freezer/freezer.state")).trim() === "FROZEN";
  }

  private async setFrozen(frozen: boolean): Promise<void> {
    const { fs } = this.deps;
    if (this.version === 2) fs.write(this.file("cgroup.freeze"), frozen ? "1" : "0");
    else fs.write(this.file("freezer/freezer.state"), frozen ? "FROZEN" : "THAWED");
    for (let i = 0; i < 200; i++) {
      if (this.frozen() === frozen) return;
      await this.deps.sleep(10);
    }
    throw new SystemError(`cgroup ${this.relative} did not become ${frozen ? "frozen" : "thawed"} within 2 s`, { hint: "a process may be stuck in the kernel (D state); try again" });
  }

  /** SIGKILL to every process of the group until none is left (frozen groups are thawed so the kill lands). */
  async killAll(timeoutMs = 5000): Promise<void> {
    if (this.frozen()) await this.thaw();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = this.pids();
      if (pids.length === 0) return;
      for (const pid of pids) this.deps.signal(pid, "SIGKILL");
      if (Date.now() > deadline) {
        throw new SystemError(`processes ${pids.join(", ")} of cgroup ${this.relative} survived SIGKILL`, { hint: "they may be stuck in the kernel (D state)" });
      }
      await this.deps.sleep(10);
    }
  }

  /** Removes the container's directory in every hierarchy (runc may have joined more than stack made), then empty parents. */
  remove(): void {
    removeCgroupTree(this.deps.fs, this.root, this.version, this.relative);
  }
}

function safeRead(fs: CgroupFs, path: string): string {
  try {
    return fs.read(path);
  } catch {
    return "";
  }
}

function sumIoStat(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const m of text.matchAll(/rbytes=(\d+) wbytes=(\d+)/g)) {
    read += Number(m[1]);
    write += Number(m[2]);
  }
  return { read, write };
}

function sumBlkio(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const m of text.matchAll(/^\S+ (Read|Write) (\d+)$/gm)) {
    if (m[1] === "Read") read += Number(m[2]);
    else write += Number(m[2]);
  }
  return { read, write };
}

/** The hierarchies under a cgroup root: "" for v2, every mounted v1 hierarchy (incl. name=systemd and the hybrid "unified"). */
function hierarchies(fs: CgroupFs, root: string, version: CgroupVersion): string[] {
  return version === 2 ? [root] : fs.subdirs(root).map((h) => join(root, h));
}

/**
 * rmdir `relative` (and its children, deepest first) in every hierarchy, then
 * its parents up to (not including) "stack" when they are empty. Another
 * project's or a still-used parent stays.
 */
export function removeCgroupTree(fs: CgroupFs, root: string, version: CgroupVersion, relative: string): void {
  for (const h of hierarchies(fs, root, version)) {
    const walk = (dir: string): void => {
      for (const sub of fs.subdirs(dir)) walk(join(dir, sub));
      try {
        fs.rmdir(dir);
      } catch (e) {
        throw new SystemError(`cannot remove cgroup ${dir}: ${(e as Error).message}`, { cause: e, hint: "a process is still in it; stop the container first" });
      }
    };
    if (fs.exists(join(h, relative))) walk(join(h, relative));
    const parts = relative.split("/");
    for (let n = parts.length - 1; n >= 2; n--) {
      const parent = join(h, ...parts.slice(0, n));
      try {
        if (fs.subdirs(parent).length === 0) fs.rmdir(parent);
      } catch {
        // Busy or raced by another container of the project: it stays.
      }
    }
  }
}

/** Container ids that have a cgroup under stack/<project> (any hierarchy). */
export function listProjectCgroups(fs: CgroupFs, root: string, version: CgroupVersion, project: string): string[] {
  const ids = new Set<string>();
  for (const h of hierarchies(fs, root, version)) for (const id of fs.subdirs(join(h, "stack", project))) ids.add(id);
  return [...ids].sort();
}
