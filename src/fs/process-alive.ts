// Whether a process lives, for lock files and pid files that name their owner:
// kill -0 succeeds, or fails with EPERM (it lives under another user).
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
