// A push-driven tar reader that keeps nothing it is given. push() takes the
// next piece of the archive, parses it at once and hands the sink each
// entry's header and then its content as views of that piece, synchronously:
// once push() returns, the caller may overwrite the piece (a reused inflate
// buffer). Only what spans pieces is copied — a header split across two
// pieces (512 bytes) and pax records / GNU long names (at most META_LIMIT).
// tar-stream could not be fed a reused buffer: it keeps slices of its input
// after its write callback.
//
// Formats read: ustar (name prefix), GNU (long names 'L'/'N', long link
// names 'K'), pax extended headers ('x', and global 'g' applied to every
// later entry) with path, linkpath, size, uid, gid and mtime, base-256
// numbers. As in Go's archive/tar (which containerd uses), links, symlinks,
// device nodes, FIFOs and directories carry no content whatever their size
// field says. All-zero blocks are skipped, as tar-stream does.
import { InvalidInputError } from "../../errors.js";

export type TarEntryType =
  | "file"
  | "contiguous-file"
  | "link"
  | "symlink"
  | "character-device"
  | "block-device"
  | "directory"
  | "fifo"
  /** A type flag with no file behind it here (sparse files, volume labels, vendor extensions). */
  | "other";

export interface TarHeader {
  /** The full name: pax `path`, else a GNU long name, else the ustar prefix + name. */
  name: string;
  type: TarEntryType;
  /** The raw type flag, for messages ("0", "5", "S"…). */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content that follow (0 for types that carry none). */
  size: number;
  /** Seconds since the epoch; fractional when a pax header says so. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** The entry's pax records (global ones merged in), as text; null without any. */
  pax: Record<string, string> | null;
  /** Byte offset of the entry's own header in the archive. */
  offset: number;
}

/**
 * Receives the archive as it is read. Every call is synchronous and `data`'s
 * bytes are valid only during the call: keep a copy or write them out.
 */
export interface TarSink {
  entry(header: TarHeader): void;
  /** The next bytes of the current entry's content, in order, never empty. */
  data(bytes: Buffer): void;
  /** The current entry's content is complete (called for every entry, content or not). */
  entryEnd(): void;
}

const BLOCK = 512;
/** Largest pax record set or GNU long name accepted: real ones are a few hundred bytes. */
export const META_LIMIT = 1024 * 1024;

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "contiguous-file",
  "1": "link",
  "2": "symlink",
  "3": "character-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
};
const CONTENT_TYPES = new Set<TarEntryType>(["file", "contiguous-file", "other"]);
type MetaKind = "pax" | "pax-global" | "long-name" | "long-link";
const META_TYPES: Record<string, MetaKind> = { x: "pax", g: "pax-global", L: "long-name", N: "long-name", K: "long-link" };

function malformed(offset: number, why: string): InvalidInputError {
  return new InvalidInputError(`the archive is not a valid tar: ${why} (header at byte ${offset})`, {
    hint: "the file is truncated, corrupt or not a tar archive; check it with `tar -tvf FILE`",
  });
}

/** A NUL-terminated text field. */
function text(b: Buffer, at: number, length: number): string {
  let end = at;
  while (end < at + length && b[end] !== 0) end++;
  return b.toString("utf8", at, end);
}

/** An octal field (leading spaces or NULs, ended by a space or NUL), or a base-256 one (high bit set). */
function number(b: Buffer, at: number, length: number, field: string, offset: number): number {
  const first = b[at]!;
  if (first & 0x80) {
    if (first === 0xff) throw malformed(offset, `the ${field} field is negative`);
    let n = first & 0x7f;
    for (let i = at + 1; i < at + length; i++) n = n * 256 + b[i]!;
    if (!Number.isSafeInteger(n)) throw malformed(offset, `the ${field} field is too large`);
    return n;
  }
  let i = at;
  const end = at + length;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let n = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) throw malformed(offset, `the ${field} field ${JSON.stringify(b.toString("latin1", at, end))} is not an octal number`);
    n = n * 8 + (c - 0x30);
  }
  return n;
}

/** Parses pax records ("<length> <key>=<value>\n"); values are UTF-8 text (binary ones decode with U+FFFD, as tar-stream's did). */
export function parsePax(b: Buffer, offset: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < b.length) {
    if (b[i] === 0) break; // padding some writers leave after the last record
    let j = i;
    let length = 0;
    while (j < b.length && b[j]! >= 0x30 && b[j]! <= 0x39 && j - i < 10) length = length * 10 + (b[j++]! - 0x30);
    if (j === i || b[j] !== 0x20 || length <= j - i + 1 || i + length > b.length || b[i + length - 1] !== 0x0a) {
      throw malformed(offset, `a pax record at byte ${i} of the extended header is malformed`);
    }
    const eq = b.indexOf(0x3d, j + 1);
    if (eq === -1 || eq >= i + length - 1) throw malformed(offset, `a pax record at byte ${i} of the extended header has no "="`);
    out[b.toString("utf8", j + 1, eq)] = b.toString("utf8", eq + 1, i + length - 1);
    i += length;
  }
  return out;
}

export class TarReader {
  /** A header split across pieces, gathered here. */
  private readonly block = Buffer.alloc(BLOCK);
  private blockFill = 0;
  private state: "header" | "content" | "meta" | "padding" = "header";
  /** Content or meta bytes still to come, then padding to the block boundary. */
  private remaining = 0;
  private padding = 0;
  private meta: { kind: MetaKind; bytes: Buffer; fill: number; offset: number } | undefined;
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private longName: string | undefined;
  private longLink: string | undefined;
  /** Archive bytes consumed so far. */
  private position = 0;
  private finished = false;

  constructor(private readonly sink: TarSink) {}

  /** Reads the next piece of the archive; `piece` is not used after this returns. */
  push(piece: Buffer): void {
    if (this.finished) throw new Error("TarReader.push after finish");
    let i = 0;
    const n = piece.length;
    while (i < n) {
      switch (this.state) {
        case "header": {
          if (this.blockFill === 0 && n - i >= BLOCK) {
            this.position += BLOCK;
            i += BLOCK;
            this.header(piece, i - BLOCK, this.position - BLOCK);
          } else {
            const take = Math.min(BLOCK - this.blockFill, n - i);
            piece.copy(this.block, this.blockFill, i, i + take);
            this.blockFill += take;
            this.position += take;
            i += take;
            if (this.blockFill === BLOCK) {
              this.blockFill = 0;
              this.header(this.block, 0, this.position - BLOCK);
            }
          }
          break;
        }
        case "content": {
          const take = Math.min(this.remaining, n - i);
          this.sink.data(take === n && i === 0 ? piece : piece.subarray(i, i + take));
          i += take;
          this.position += take;
          this.remaining -= take;
          if (this.remaining === 0) this.contentDone();
          break;
        }
        case "meta": {
          const m = this.meta!;
          const take = Math.min(this.remaining, n - i);
          piece.copy(m.bytes, m.fill, i, i + take);
          m.fill += take;
          i += take;
          this.position += take;
          this.remaining -= take;
          if (this.remaining === 0) this.metaDone();
          break;
        }
        case "padding": {
          const take = Math.min(this.padding, n - i);
          i += take;
          this.position += take;
          this.padding -= take;
          if (this.padding === 0) this.state = "header";
          break;
        }
      }
    }
  }

  /** The archive ended: anything cut short (a header, content, padding) is an error. */
  finish(): void {
    this.finished = true;
    const at = this.position;
    if (this.state === "header" && this.blockFill > 0) throw malformed(at - this.blockFill, `it ends inside a header, ${this.blockFill} of 512 bytes`);
    if (this.state === "content" || this.state === "meta") throw malformed(at, `it ends ${this.remaining} bytes before the end of an entry's content`);
    if (this.state === "padding") throw malformed(at, `it ends ${this.padding} bytes before the end of an entry's padding`);
    if (this.meta || this.pax || this.longName !== undefined || this.longLink !== undefined) throw malformed(at, "it ends after an extended header with no entry");
  }

  private header(b: Buffer, at: number, offset: number): void {
    let sum = 0;
    let signedSum = 0;
    for (let k = at; k < at + BLOCK; k++) {
      const c = k >= at + 148 && k < at + 156 ? 0x20 : b[k]!;
      sum += c;
      signedSum += c > 127 ? c - 256 : c;
    }
    if (sum === 8 * 0x20 && b.subarray(at + 148, at + 156).every((c) => c === 0)) return; // an all-zero block
    const stored = number(b, at + 148, 8, "checksum", offset);
    if (stored !== sum && stored !== signedSum) throw malformed(offset, `bad header checksum (stored ${stored}, computed ${sum})`);

    const flag = String.fromCharCode(b[at + 156]!);
    const size = number(b, at + 124, 12, "size", offset);
    const metaKind = META_TYPES[flag];
    if (metaKind) {
      if (size > META_LIMIT) throw malformed(offset, `its ${metaKind} record of ${size} bytes is larger than ${META_LIMIT}`);
      this.meta = { kind: metaKind, bytes: Buffer.allocUnsafe(size), fill: 0, offset };
      this.remaining = size;
      this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
      this.state = "meta";
      if (size === 0) this.metaDone();
      return;
    }

    let name = text(b, at, 100);
    const magic = b.toString("latin1", at + 257, at + 263);
    if (magic === "ustar\0" && b[at + 345] !== 0) name = `${text(b, at + 345, 155)}/${name}`;
    let type: TarEntryType = TYPES[flag] ?? "other";
    if (flag === "\0" && name.endsWith("/")) type = "directory"; // pre-POSIX directories
    const h: TarHeader = {
      name,
      type,
      typeflag: flag === "\0" ? "0" : flag,
      mode: number(b, at + 100, 8, "mode", offset),
      uid: number(b, at + 108, 8, "uid", offset),
      gid: number(b, at + 116, 8, "gid", offset),
      size,
      mtime: number(b, at + 136, 12, "mtime", offset),
      linkname: text(b, at + 157, 100),
      devmajor: number(b, at + 329, 8, "devmajor", offset),
      devminor: number(b, at + 337, 8, "devminor", offset),
      pax: null,
      offset,
    };
    if (this.longName !== undefined) h.name = this.longName;
    if (this.longLink !== undefined) h.linkname = this.longLink;
    const pax = this.paxGlobal && this.pax ? { ...this.paxGlobal, ...this.pax } : (this.pax ?? (this.paxGlobal ? { ...this.paxGlobal } : null));
    if (pax) {
      applyPax(h, pax, offset);
      h.pax = pax;
    }
    this.pax = null;
    this.longName = undefined;
    this.longLink = undefined;
    if (!CONTENT_TYPES.has(h.type)) h.size = 0;
    this.sink.entry(h);
    this.remaining = h.size;
    this.padding = (BLOCK - (h.size % BLOCK)) % BLOCK;
    this.state = "content";
    if (h.size === 0) this.contentDone();
  }

  private contentDone(): void {
    this.sink.entryEnd();
    this.state = this.padding > 0 ? "padding" : "header";
  }

  private metaDone(): void {
    const m = this.meta!;
    this.meta = undefined;
    switch (m.kind) {
      case "pax":
        this.pax = { ...(this.pax ?? {}), ...parsePax(m.bytes, m.offset) };
        break;
      case "pax-global":
        this.paxGlobal = { ...(this.paxGlobal ?? {}), ...parsePax(m.bytes, m.offset) };
        break;
      case "long-name":
        this.longName = text(m.bytes, 0, m.bytes.length);
        break;
      case "long-link":
        this.longLink = text(m.bytes, 0, m.bytes.length);
        break;
    }
    this.state = this.padding > 0 ? "padding" : "header";
  }
}

function applyPax(h: TarHeader, pax: Record<string, string>, offset: number): void {
  const integer = (key: string): number | undefined => {
    const v = pax[key];
    if (v === undefined) return undefined;
    if (!/^\d{1,15}$/.test(v)) throw malformed(offset, `its pax ${key} ${JSON.stringify(v)} is not a number`);
    return Number(v);
  };
  if (pax.path !== undefined) h.name = pax.path;
  if (pax.linkpath !== undefined) h.linkname = pax.linkpath;
  h.size = integer("size") ?? h.size;
  h.uid = integer("uid") ?? h.uid;
  h.gid = integer("gid") ?? h.gid;
  const mtime = pax.mtime;
  if (mtime !== undefined && /^\d+(\.\d+)?$/.test(mtime)) h.mtime = Number(mtime);
}
