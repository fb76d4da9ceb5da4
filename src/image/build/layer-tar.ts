// A layer as a list of entries, written as an uncompressed tar (its sha256 is
// then both the blob digest and the diff_id). Entries are described first —
// COPY plans them from the context, RUN from the container's upper dir — and
// written by one executor, so the description can be hashed for the cache.
import { createReadStream } from "node:fs";
import { PassThrough, type Readable } from "node:stream";
import * as tar from "tar-stream";

export interface LayerEntry {
  /** Path in the image, relative, without a leading slash ("etc/app.conf"). */
  path: string;
  type: "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";
  /** Permission bits incl. setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  /** Symlink target, or for a hard link the path of the earlier entry. */
  linkname?: string;
  /** File content: read from this host path … */
  hostPath?: string;
  /** … or given here. */
  content?: Buffer;
  size?: number;
  devmajor?: number;
  devminor?: number;
}

/** Streams `entries` (in order) as a tar archive. */
export function layerTar(entries: LayerEntry[]): Readable {
  const pack = tar.pack();
  const out = new PassThrough();
  void (async () => {
    try {
      for (const e of entries) {
        const header: Partial<tar.Header> & { name: string } = {
          name: e.type === "directory" ? `${e.path}/` : e.path,
          type: e.type,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          uname: "",
          gname: "",
          mtime: e.mtime,
          linkname: e.linkname ?? "",
          devmajor: e.devmajor ?? 0,
          devminor: e.devminor ?? 0,
          size: e.type === "file" ? (e.content?.length ?? e.size ?? 0) : 0,
        };
        if (e.type === "file" && e.content === undefined && e.hostPath !== undefined && (e.size ?? 0) > 0) {
          const source = createReadStream(e.hostPath);
          await new Promise<void>((resolve, reject) => {
            source.on("error", reject);
            source.pipe(pack.entry(header, (err) => (err ? reject(err) : resolve())));
          });
        } else {
          await new Promise<void>((resolve, reject) => pack.entry(header, e.type === "file" ? (e.content ?? Buffer.alloc(0)) : Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
        }
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  pack.on("error", (err) => out.destroy(err));
  return pack.pipe(out);
}
