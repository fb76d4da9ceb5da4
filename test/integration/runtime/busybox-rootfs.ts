// A tiny image for runtime tests: Debian's static busybox, its applets as
// symlinks, and passwd/group with root, nobody and app (uid 1000).
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export function makeBusyboxRootfs(dir: string): string {
  for (const d of ["bin", "etc", "tmp", "data", "proc", "sys", "dev"]) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync("/bin/busybox", join(dir, "bin", "busybox"));
  const applets = execFileSync("/bin/busybox", ["--list"], { encoding: "utf8" }).split("\n").filter((a) => a && a !== "busybox");
  for (const a of applets) symlinkSync("busybox", join(dir, "bin", a));
  writeFileSync(join(dir, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n");
  writeFileSync(join(dir, "etc", "group"), "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n");
  writeFileSync(join(dir, "data", "seed.txt"), "from-image\n");
  return dir;
}
