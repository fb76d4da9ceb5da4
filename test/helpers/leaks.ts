// What a test may leave behind on the host, by the naming conventions of
// ../shared/DESIGN.md: mounts under the test's state/run dirs (or any
// /var/lib/stack, /run/stack), netns stack-*, links stk*, cgroups stack/*,
// the nft table stack, runc containers under the given runc roots, and
// processes whose command line mentions the test's dirs.
// Take a snapshot before, call `assertNoLeaks` after: it fails the test and
// names what was left.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface HostSnapshot {
  mounts: string[];
  netns: string[];
  links: string[];
  cgroups: string[];
  nftTables: string[];
  runc: string[];
  processes: string[];
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

function listCgroups(): string[] {
  const out: string[] = [];
  const root = "/sys/fs/cgroup";
  const tops = safe(() => readdirSync(root), [] as string[]);
  const candidates = [root, ...tops.map((t) => join(root, t))];
  for (const dir of candidates) {
    const stackDir = join(dir, "stack");
    if (!existsSync(stackDir)) continue;
    const walk = (d: string, depth: number): void => {
      out.push(d);
      if (depth > 3) return;
      for (const e of safe(() => readdirSync(d, { withFileTypes: true }), [])) if (e.isDirectory()) walk(join(d, e.name), depth + 1);
    };
    for (const e of safe(() => readdirSync(stackDir, { withFileTypes: true }), [])) if (e.isDirectory()) walk(join(stackDir, e.name), 1);
  }
  return out.sort();
}

export function snapshotHost(watchDirs: string[] = [], runcRoots: string[] = []): HostSnapshot {
  const mountPoints = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m);
  const interesting = (p: string) => p.startsWith("/var/lib/stack") || p.startsWith("/run/stack") || watchDirs.some((d) => p.startsWith(d));
  const netns = safe(() => readdirSync("/run/netns"), [] as string[]).filter((n) => n.startsWith("stack-"));
  const links = safe(() => readdirSync("/sys/class/net"), [] as string[]).filter((n) => n.startsWith("stk"));
  const nft = safe(() => execFileSync("nft", ["list", "tables"], { encoding: "utf8" }), "")
    .split("\n")
    .filter((l) => /\bstack\b/.test(l));
  const runc = runcRoots.flatMap((r) => safe(() => readdirSync(r).map((c) => `${r}/${c}`), [] as string[]));
  const processes = watchDirs.length === 0
    ? []
    : safe(() => readdirSync("/proc"), [] as string[])
        .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
        .flatMap((p) => {
          const cmd = safe(() => readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ").trim(), "");
          return cmd && watchDirs.some((d) => cmd.includes(d)) ? [`${p}: ${cmd}`] : [];
        });
  return {
    mounts: mountPoints.filter(interesting).sort(),
    netns: netns.sort(),
    links: links.sort(),
    cgroups: listCgroups(),
    nftTables: nft.sort(),
    runc: runc.sort(),
    processes: processes.sort(),
  };
}

/** Everything in `after` that was not in `before`. */
export function diffSnapshots(before: HostSnapshot, after: HostSnapshot): string[] {
  const left: string[] = [];
  for (const key of Object.keys(after) as Array<keyof HostSnapshot>) {
    const seen = new Set(before[key]);
    for (const item of after[key]) if (!seen.has(item)) left.push(`${key}: ${item}`);
  }
  return left;
}

export function assertNoLeaks(before: HostSnapshot, watchDirs: string[] = [], runcRoots: string[] = []): void {
  const left = diffSnapshots(before, snapshotHost(watchDirs, runcRoots));
  if (left.length > 0) throw new Error(`the test left resources behind:\n  ${left.join("\n  ")}`);
}
