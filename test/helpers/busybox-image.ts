// A tiny image for tests, made from Debian's busybox-static: /bin/busybox,
// symlinks for the common applets, /etc/passwd and /etc/group with root,
// nobody and `app` (uid/gid 1000), and the usual empty folders. Shared by
// every area's tests; imported through the real image store.
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import * as tar from "tar-stream";
import { ImageStore } from "../../src/image/store/index.js";

export const BUSYBOX = "/bin/busybox";

export const BUSYBOX_APPLETS = [
  "cat", "chmod", "chown", "cp", "date", "df", "du", "echo", "env", "false", "grep", "head", "hostname", "httpd", "id",
  "ifconfig", "ip", "kill", "ln", "ls", "mkdir", "mount", "mv", "nc", "nslookup", "ping", "ps", "pwd", "rm", "sed", "sh",
  "sleep", "stat", "tail", "tee", "top", "touch", "true", "umount", "uname", "wc", "wget", "whoami", "yes",
];

const PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n";

export interface TarEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  content?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

/** A tar archive of `entries`, in order, exactly as given (names are not cleaned: tests craft hostile ones). */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    const header: tar.Header = {
      name: e.name,
      type: e.type ?? "file",
      uname: "",
      gname: "",
      linkname: e.linkname ?? "",
      devmajor: e.devmajor ?? 0,
      devminor: e.devminor ?? 0,
      mode: e.mode ?? (e.type === "directory" ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date("2024-01-02T03:04:05Z"),
      ...(e.pax ? { pax: e.pax } : {}),
      size: content ? content.length : 0,
    };
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

export function busyboxEntries(): TarEntry[] {
  const dirs = ["bin", "dev", "etc", "home", "proc", "root", "run", "sys", "usr", "usr/bin", "var"];
  return [
    ...dirs.map((d): TarEntry => ({ name: `${d}/`, type: "directory", mode: d === "root" ? 0o700 : 0o755 })),
    { name: "tmp/", type: "directory", mode: 0o1777 },
    { name: "home/app/", type: "directory", mode: 0o755, uid: 1000, gid: 1000 },
    { name: "bin/busybox", mode: 0o755, content: readFileSync(BUSYBOX) },
    ...BUSYBOX_APPLETS.map((a): TarEntry => ({ name: `bin/${a}`, type: "symlink", linkname: "busybox" })),
    { name: "etc/passwd", content: PASSWD },
    { name: "etc/group", content: GROUP },
    { name: "etc/hostname", content: "busybox\n" },
  ];
}

/** The busybox rootfs as a tar, gzip-compressed when asked. */
export async function busyboxRootfsTar(options: { gzip?: boolean } = {}): Promise<Buffer> {
  const raw = await makeTar(busyboxEntries());
  return options.gzip ? gzipSync(raw) : raw;
}

/** Imports the busybox rootfs into the store under `stateDir` as `name`; returns the name. */
export async function importBusyboxImage(stateDir: string, name = "stack-test/busybox:latest", changes: string[] = ['CMD ["sh"]']): Promise<string> {
  const store = new ImageStore(stateDir);
  await store.importRootfs(Readable.from(await busyboxRootfsTar({ gzip: true })), name, { changes });
  return name;
}
