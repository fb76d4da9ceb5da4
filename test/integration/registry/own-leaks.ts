// Leak checks scoped to what these tests can leave: mounts under and
// processes mentioning the test's own folder (registries, CLI runs, zstd).
// Other engineers' concurrent tests create netns, links and cgroups that are
// none of ours, so those keys are not compared here.
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";

export function snapshotOwn(dir: string): HostSnapshot {
  return snapshotHost([dir]);
}

export function assertNoOwnLeaks(before: HostSnapshot, dir: string): void {
  const left = diffSnapshots(before, snapshotHost([dir])).filter((l) => (l.startsWith("mounts: ") || l.startsWith("processes: ")) && l.includes(dir));
  if (left.length > 0) throw new Error(`the test left resources behind:\n  ${left.join("\n  ")}`);
}
