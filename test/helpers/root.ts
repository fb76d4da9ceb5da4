// Privileged integration tests run only as root; elsewhere they skip with a
// printed reason (never silently).
export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

export function rootReason(what: string): string {
  return `skipping ${what}: needs root (mounts, namespaces, cgroups); CI runs it as root`;
}

/** Use as `describe.skipIf(skipUnlessRoot("runtime tests"))(...)`. Prints the reason once. */
export function skipUnlessRoot(what: string): boolean {
  if (!isRoot) console.warn(rootReason(what));
  return !isRoot;
}
