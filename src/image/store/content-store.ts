// Blobs addressed by their sha256 digest, containerd-style: a write streams
// into `ingest/<pid>-<random>` while hashing, is fsynced, checked against the
// expected digest and size, then renamed to `blobs/sha256/<hex>`. A rename
// over an existing blob replaces identical bytes, so concurrent writes of the
// same content are harmless; a crashed writer leaves only an ingest file,
// which the next writer removes once its pid is gone.
import { createHash, randomBytes } from "node:crypto";
import { closeSync, constants, createReadStream, fsync, openSync } from "node:fs";
import { mkdir, open, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { InvalidInputError, NotFoundError } from "../../errors.js";
import { closeAbandoning, openDirect, wantDirect, type DirectPolicy, type DirectWriter } from "../../fs/direct-write.js";
import { writePlainSync } from "../../fs/page-cache-cost.js";
import { processAlive } from "../../fs/process-alive.js";

const DIGEST = /^sha256:([a-f0-9]{64})$/;

export interface BlobInfo {
  digest: string;
  size: number;
}

export interface ExpectedBlob {
  digest?: string;
  size?: number;
}

/** The hex part of a sha256 digest; anything else is refused (it becomes a file name). */
export function digestHex(digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new InvalidInputError(`invalid digest ${JSON.stringify(digest)}`, { hint: 'a digest is "sha256:" followed by 64 lower-case hex digits' });
  return m[1]!;
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * One blob on its way into the store. write() copies its piece before it
 * returns, so the caller may reuse it at once: into the ingest file (a
 * page-cache write, in place: cheaper than a threadpool round trip per
 * piece), or, for a large blob of known size, into a staging buffer that a
 * direct write takes to the disk (fs/direct-write.ts). Exactly one of
 * commit() and abort() ends it.
 */
export class BlobWriting {
  private readonly hash = createHash("sha256");
  private size = 0;
  private fd: number | undefined;

  constructor(
    private readonly tmp: string,
    fd: number,
    private readonly expected: ExpectedBlob,
    private readonly pathOf: (digest: string) => string,
    private readonly blobsDir: string,
    private readonly direct: DirectWriter | null = null,
  ) {
    this.fd = fd;
  }

  /** Bytes received so far. */
  get received(): number {
    return this.size;
  }

  write(piece: Uint8Array): void {
    if (this.fd === undefined) throw new Error("BlobWriting.write after its end");
    this.hash.update(piece);
    if (this.direct) this.direct.write(piece);
    else writePlainSync(this.fd, piece, this.size);
    this.size += piece.length;
  }

  /** Syncs the file and checks size and digest; on a mismatch nothing is stored (and the error says which). */
  async commit(): Promise<BlobInfo> {
    try {
      const fd = this.fd!;
      this.fd = undefined;
      try {
        await this.direct?.end();
        await new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
      } finally {
        closeSync(fd);
      }
      const digest = `sha256:${this.hash.digest("hex")}`;
      const { expected, size } = this;
      if (expected.size !== undefined && expected.size !== size) {
        throw new InvalidInputError(`blob ${expected.digest ?? digest} has ${size} bytes, expected ${expected.size}`, { hint: "the download was cut short or the source is corrupt; nothing was stored, try again" });
      }
      if (expected.digest !== undefined && expected.digest !== digest) {
        throw new InvalidInputError(`blob content does not match its digest: expected ${expected.digest}, got ${digest}`, { hint: "the source is corrupt or tampered with; nothing was stored" });
      }
      await rename(this.tmp, this.pathOf(digest));
      await syncDir(this.blobsDir);
      return { digest, size };
    } catch (e) {
      await rm(this.tmp, { force: true });
      throw e;
    }
  }

  async abort(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await closeAbandoning(fd, this.direct);
    await rm(this.tmp, { force: true });
  }
}

export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;

  /** `root` is `$STACK_STATE_DIR/images`; `direct`: which blobs are written past the page cache (default: fs/direct-write.ts's measured choice). */
  constructor(
    readonly root: string,
    private readonly direct: DirectPolicy = wantDirect,
  ) {
    this.blobsDir = join(root, "blobs", "sha256");
    this.ingestDir = join(root, "ingest");
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.blobPath(digest))).isFile();
    } catch {
      return false;
    }
  }

  async size(digest: string): Promise<number> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch {
      throw this.missing(digest);
    }
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(digest));
    } catch {
      throw this.missing(digest);
    }
  }

  /** A stream of the blob's bytes; check has() first when absence is expected. */
  open(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  /** Stores a blob, verifying `expected` (digest, size) while streaming; on a mismatch nothing is stored. */
  async write(input: Readable | Uint8Array, expected: ExpectedBlob = {}): Promise<BlobInfo> {
    const writing = await this.begin(expected);
    try {
      if (input instanceof Uint8Array) writing.write(input);
      else for await (const chunk of input as AsyncIterable<Uint8Array>) writing.write(chunk);
    } catch (e) {
      await writing.abort();
      throw e;
    }
    return writing.commit();
  }

  /**
   * Starts a blob that the caller hands over piece by piece
   * (BlobWriting.write), then commits — verified against `expected` — or
   * aborts. Until the commit it is only an ingest file.
   */
  async begin(expected: ExpectedBlob = {}): Promise<BlobWriting> {
    if (expected.digest !== undefined) digestHex(expected.digest);
    await mkdir(this.ingestDir, { recursive: true });
    await mkdir(this.blobsDir, { recursive: true });
    await this.sweepIngest();
    const tmp = join(this.ingestDir, `${process.pid}-${randomBytes(6).toString("hex")}`);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
    const direct = this.direct(expected.size ?? 0) ? openDirect(tmp, flags, 0o644) : null;
    const fd = direct ? direct.fd : openSync(tmp, flags, 0o644);
    return new BlobWriting(tmp, fd, expected, (digest) => this.blobPath(digest), this.blobsDir, direct);
  }

  async delete(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  /** Removes ingest files whose writer process is gone. */
  private async sweepIngest(): Promise<void> {
    for (const name of await readdir(this.ingestDir)) {
      const pid = Number(name.split("-")[0]);
      if (pid !== process.pid && !processAlive(pid)) await rm(join(this.ingestDir, name), { force: true });
    }
  }

  private missing(digest: string): NotFoundError {
    return new NotFoundError(`blob ${digest} is not in the image store`, { hint: "the store is incomplete; pull or import the image again" });
  }
}
