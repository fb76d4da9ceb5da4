// The narrow mount interface, and its real forms: mount(2) through the perl
// helper (no process per mount), or mount(8)/umount(8) where it cannot run.
import { readFileSync } from "node:fs";
import { SystemError } from "../errors.js";
import type { CommandRunner } from "../fs/command-runner.js";
import type { PerlHelper } from "../fs/perl-helper.js";
import type { MountDescription } from "./overlay.js";

export interface Mounter {
  /** Mounts `m`; `fifos` (mode 0600) are made first by the same command: one process less per container start. */
  mount(m: MountDescription, fifos?: string[]): Promise<void>;
  /** Lazy-free unmount of one mount point; absent mount points are not an error. */
  unmount(target: string): Promise<void>;
  /** Mount points at or below `prefix`, deepest first. */
  mountsUnder(prefix: string): string[];
}

/** Octal escapes of /proc/self/mountinfo ("\040" for a blank). */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m)
    .map(unescapeMountPath);
}

const mountHint = "check that the kernel has overlayfs and the layer dirs exist";

/** mount(2), umount2(2) and mkfifo(3) through the process's perl helper (src/fs/perl-helper.ts). */
export class SyscallMounter implements Mounter {
  constructor(private readonly helper: PerlHelper) {}

  async mount(m: MountDescription, fifos: string[] = []): Promise<void> {
    try {
      if (fifos.length > 0) await this.helper.mkfifo(fifos, 0o600);
    } catch (e) {
      throw new SystemError(`cannot mount ${m.type} at ${m.target}: mkfifo ${fifos.join(" ")}: ${(e as Error).message}`, { cause: e, hint: "check that the container's folder exists under STACK_STATE_DIR" });
    }
    try {
      await this.helper.mount(m.source, m.target, m.type, m.options.join(","));
    } catch (e) {
      throw new SystemError(`cannot mount ${m.type} at ${m.target}: ${(e as Error).message}`, { cause: e, hint: mountHint });
    }
  }

  async unmount(target: string): Promise<void> {
    if (!this.mountsUnder(target).includes(target)) return;
    try {
      await this.helper.umount(target);
    } catch (e) {
      throw new SystemError(`cannot unmount ${target}: ${(e as Error).message}`, { cause: e, hint: "a process may still use it; stop the container first" });
    }
  }

  mountsUnder(prefix: string): string[] {
    return mountPointsUnder(prefix);
  }
}

/** The kernel's octal escapes of a path in /proc/self/mountinfo. */
function escapeMountPath(p: string): string {
  return p.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

/** Mount points at or below `prefix` in this process's mount table, deepest first. */
function mountPointsUnder(prefix: string): string[] {
  // Only lines that name the prefix are parsed: a host with many mounts has a long table.
  const needle = escapeMountPath(prefix);
  const lines = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(needle));
  const all = parseMountPoints(lines.join("\n"));
  return [...new Set(all.filter((p) => p === prefix || p.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`)))].sort((a, b) => b.length - a.length);
}

export class CommandMounter implements Mounter {
  constructor(private readonly runner: CommandRunner) {}

  async mount(m: MountDescription, fifos: string[] = []): Promise<void> {
    const argv = ["mount", "-t", m.type, "-o", m.options.join(","), m.source, m.target];
    // Every process costs ~10 ms here (fork + exec): mkfifo and mount go in one shell.
    const refs = fifos.map((_, i) => `"$${i + 1}"`).join(" ");
    const r = await this.runner.run(fifos.length === 0 ? argv : ["sh", "-c", `mkfifo -m 600 ${refs} && shift ${fifos.length} && exec "$@"`, "stack-mount", ...fifos, ...argv]);
    if (r.exitCode !== 0) {
      throw new SystemError(`cannot mount ${m.type} at ${m.target}: ${r.stderr.trim()}`, { hint: mountHint });
    }
  }

  async unmount(target: string): Promise<void> {
    if (!this.mountsUnder(target).includes(target)) return;
    const r = await this.runner.run(["umount", target]);
    if (r.exitCode !== 0) throw new SystemError(`cannot unmount ${target}: ${r.stderr.trim()}`, { hint: "a process may still use it; stop the container first" });
  }

  mountsUnder(prefix: string): string[] {
    return mountPointsUnder(prefix);
  }
}
