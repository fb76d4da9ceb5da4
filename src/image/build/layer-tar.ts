// A layer as a list of entries, written as an uncompressed tar (its sha256 is
// then both the blob digest and the diff_id). Entries are described first —
// COPY plans them from the context, RUN from the container's upper dir — and
// written by one executor, so the description can be hashed for the cache.
//
// The tar is encoded here rather than through a streaming tar library: a
// layer of thousands of small files is mostly 512-byte headers, and building
// them in place and handing them on in 1 MiB batches is ~20x faster than one
// stream write (and one callback) per header and per file. The format is
// POSIX ustar; long names and link targets go into a pax extended header
// before the entry, numbers too large for their octal field into base-256,
// as the store's own reader (src/image/tar/tar-reader.ts), tar-stream, Go's archive/tar and GNU tar read them.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { Readable } from "node:stream";
import { ConflictError } from "../../errors.js";

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

/** Receives every entry of a layer as it is written, with the file content in pieces (to build the layer's folder beside its tar). */
export interface LayerSink {
  begin(e: LayerEntry): void;
  data(piece: Buffer): void;
  end(e: LayerEntry): void;
}

const BLOCK = 512;
/** Files up to this size are read whole; larger ones in pieces of this size. */
const PIECE = 1 << 20;
/** Output is handed on in batches of about this size. */
const BATCH = 1 << 20;

const TYPEFLAG: Record<LayerEntry["type"], string> = { file: "0", link: "1", symlink: "2", "character-device": "3", "block-device": "4", directory: "5", fifo: "6" };

/** The whole seconds of a tar header's mtime (never negative). */
export function tarSeconds(mtime: Date): number {
  const s = Math.floor(mtime.getTime() / 1000);
  return Number.isFinite(s) && s > 0 ? s : 0;
}

/**
 * Writes `value` as a NUL-terminated octal field of `width` bytes, or, when
 * it does not fit, in base-256 (the GNU extension: a first byte of 0x80, then
 * the value big-endian), which tar-stream, Go and GNU tar read.
 */
function numeric(buf: Buffer, offset: number, width: number, value: number): void {
  const v = Math.max(0, Math.floor(value));
  const text = v.toString(8);
  if (text.length <= width - 1) {
    buf.write(text.padStart(width - 1, "0"), offset, "latin1");
    buf[offset + width - 1] = 0;
    return;
  }
  buf.fill(0, offset, offset + width);
  buf[offset] = 0x80;
  let rest = v;
  for (let i = offset + width - 1; i > offset && rest > 0; i--) {
    buf[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

/** One pax record: "<length> <key>=<value>\n", the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length !== String(bodyLength).length) length = bodyLength + String(length).length;
  return `${length}${body}`;
}

/** Splits a path into ustar's prefix (≤155 bytes) and name (≤100 bytes) at a slash, or undefined. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: "", name };
  if (Buffer.byteLength(name) > 256) return undefined;
  for (let i = name.indexOf("/"); i >= 0; i = name.indexOf("/", i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== "") return { prefix, name: rest };
  }
  return undefined;
}

function header(name: string, typeflag: string, e: { mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; devmajor: number; devminor: number }, pax: Record<string, string>): Buffer {
  const h = Buffer.alloc(BLOCK);
  const split = splitUstar(name);
  if (split) {
    h.write(split.name, 0, 100, "utf8");
    h.write(split.prefix, 345, 155, "utf8");
  } else {
    pax.path = name;
    h.write(name.slice(0, 99), 0, 100, "utf8");
  }
  numeric(h, 100, 8, e.mode & 0o7777);
  numeric(h, 108, 8, e.uid);
  numeric(h, 116, 8, e.gid);
  numeric(h, 124, 12, e.size);
  numeric(h, 136, 12, e.mtime);
  h.write(typeflag, 156, 1, "latin1");
  if (Buffer.byteLength(e.linkname) > 100) {
    pax.linkpath = e.linkname;
    h.write(e.linkname.slice(0, 99), 157, 100, "utf8");
  } else h.write(e.linkname, 157, 100, "utf8");
  h.write("ustar\u000000", 257, 8, "latin1");
  numeric(h, 329, 8, e.devmajor);
  numeric(h, 337, 8, e.devminor);
  // The checksum: the header's bytes summed with the checksum field as spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, "0"), 148, 6, "latin1");
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

/** The header block(s) of an entry whose content has `size` bytes: a pax header first when ustar cannot hold it all. */
export function entryHeader(e: LayerEntry, size: number): Buffer {
  const name = e.type === "directory" ? `${e.path}/` : e.path;
  const pax: Record<string, string> = {};
  const fields = { mode: e.mode, uid: e.uid, gid: e.gid, size, mtime: tarSeconds(e.mtime), linkname: e.linkname ?? "", devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0 };
  const main = header(name, TYPEFLAG[e.type], fields, pax);
  const keys = Object.keys(pax).sort();
  if (keys.length === 0) return main;
  const body = Buffer.from(keys.map((k) => paxRecord(k, pax[k]!)).join(""), "utf8");
  const paxName = `PaxHeaders/${e.path.split("/").pop()!.slice(0, 80)}`;
  const paxHeader = header(paxName, "x", { mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: fields.mtime, linkname: "", devmajor: 0, devminor: 0 }, {});
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), main]);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * The tar of `entries` (in order), in batches of about 1 MiB. A file's
 * content is its `content`, or `size` bytes read from `hostPath` (a file that
 * became shorter since it was planned is a ConflictError). `sink` sees every
 * entry and every piece of content as it goes into the tar.
 */
export function* tarChunks(entries: LayerEntry[], sink?: LayerSink): Generator<Buffer> {
  let batch: Buffer[] = [];
  let batched = 0;
  const push = (b: Buffer) => {
    batch.push(b);
    batched += b.length;
  };
  const flush = (): Buffer => {
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  };
  for (const e of entries) {
    sink?.begin(e);
    if (e.type !== "file") {
      push(entryHeader(e, 0));
    } else if (e.content !== undefined || e.hostPath === undefined || (e.size ?? 0) <= PIECE) {
      const content = e.content ?? (e.hostPath !== undefined && (e.size ?? 0) > 0 ? readFileSync(e.hostPath) : Buffer.alloc(0));
      push(entryHeader(e, content.length));
      if (content.length > 0) {
        push(content);
        sink?.data(content);
        push(Buffer.alloc(padding(content.length)));
      }
    } else {
      // A large file: its planned size, read in pieces.
      const size = e.size!;
      push(entryHeader(e, size));
      const fd = openSync(e.hostPath, "r");
      try {
        let done = 0;
        while (done < size) {
          const piece = Buffer.allocUnsafe(Math.min(PIECE, size - done));
          let filled = 0;
          while (filled < piece.length) {
            const n = readSync(fd, piece, filled, piece.length - filled, done + filled);
            if (n === 0) {
              throw new ConflictError(`${e.hostPath} became shorter (${done + filled} of ${size} bytes) while it was copied into a layer`, { hint: "something changed the file during the build; run the build again" });
            }
            filled += n;
          }
          push(piece);
          sink?.data(piece);
          done += piece.length;
          if (batched >= BATCH) yield flush();
        }
      } finally {
        closeSync(fd);
      }
      push(Buffer.alloc(padding(size)));
    }
    sink?.end(e);
    if (batched >= BATCH) yield flush();
  }
  // The end of the archive: two zero blocks.
  push(Buffer.alloc(2 * BLOCK));
  yield flush();
}

/** Streams `entries` (in order) as a tar archive. */
export function layerTar(entries: LayerEntry[], sink?: LayerSink): Readable {
  return Readable.from(tarChunks(entries, sink), { objectMode: false });
}
