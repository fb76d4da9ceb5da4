// Leak checks scoped to what builds make (other engineers' tests run at the
// same time): mounts and processes under the test's folder, the `_build`
// project's netns, bridge and cgroups, runc state under the test's run dir.
import { buildNetworkName } from "../../../src/image/build/build-network.js";
import { bridgeName } from "../../../src/network/names.js";
import { diffSnapshots, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";

export function snapshotBuildHost(dir: string, runcRoot: string): HostSnapshot {
  return snapshotHost([dir], [runcRoot]);
}

export function assertNoBuildLeaks(before: HostSnapshot, dir: string, runcRoot: string, stateDir: string): void {
  const bridge = bridgeName(buildNetworkName(stateDir));
  const left = diffSnapshots(before, snapshotHost([dir], [runcRoot])).filter((item) => {
    const [kind, ...rest] = item.split(": ");
    const what = rest.join(": ");
    if (kind === "netns") return what.startsWith("stack-_build-");
    if (kind === "links") return what === bridge;
    if (kind === "cgroups") return what.includes("/stack/_build");
    if (kind === "nftTables") return false;
    return true;
  });
  if (left.length > 0) throw new Error(`the test left resources behind:\n  ${left.join("\n  ")}`);
}
