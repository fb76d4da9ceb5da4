// Host-side names of what stack creates, by the conventions of DESIGN.md:
// netns `stack-<project>-<container>`, links and bridges `stk` + hash
// (Linux caps interface names at 15 characters: "stk" + 12 hex digits).
import { createHash } from "node:crypto";

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** The bridge of a network, from its real (global) name: the same in every project that uses it. */
export function bridgeName(networkName: string): string {
  return `stk${shortHash(`bridge\0${networkName}`)}`;
}

/** The host end of a container's veth pair on one network. */
export function vethHostName(netns: string, networkName: string): string {
  return `stk${shortHash(`veth\0${netns}\0${networkName}`)}`;
}

// `.` cannot occur in a project name, so `stack-<project>.` is a prefix no
// other project's namespaces share (with "-", project "app" would claim the
// namespaces of project "app-api").
export function netnsName(project: string, container: string): string {
  const rest = container.startsWith(`${project}-`) ? container.slice(project.length + 1) : container;
  return `${netnsPrefix(project)}${rest}`;
}

export function netnsPrefix(project: string): string {
  return `stack-${project}.`;
}

/** The id of one stack state directory in the shared nft table (its chains are `forward_<id>` …). */
export function firewallOwner(stateDir: string): string {
  return shortHash(`owner\0${stateDir}`).slice(0, 8);
}
