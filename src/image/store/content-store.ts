// Blobs addressed by their sha256 digest, containerd-style: a write streams
// into `ingest/<pid>-<random>` while hashing, is fsynced, checked against the
// expected digest and size, then renamed to `blobs/sha256/<hex>`. A rename
// over an existing blob replaces identical bytes, so concurrent writes of the
// same content are harmless; a crashed writer leaves only an ingest file,
// which the next writer removes once its pid is gone.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { InvalidInputError, NotFoundError } from "../../errors.js";
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

const WRITE_BATCH = 1024 * 1024;

/** Writes all of `chunks` at the file's current offset, however many calls that takes. */
async function writeAll(fh: FileHandle, chunks: Uint8Array[], total: number): Promise<void> {
  let { bytesWritten } = await fh.writev(chunks);
  if (bytesWritten === total) return;
  const rest = Buffer.concat(chunks, total);
  while (bytesWritten < total) bytesWritten += (await fh.write(rest, bytesWritten, total - bytesWritten)).bytesWritten;
}

export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;

  /** `root` is `$STACK_STATE_DIR/images`. */
  constructor(readonly root: string) {
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
    if (expected.digest !== undefined) digestHex(expected.digest);
    await mkdir(this.ingestDir, { recursive: true });
    await mkdir(this.blobsDir, { recursive: true });
    await this.sweepIngest();
    const tmp = join(this.ingestDir, `${process.pid}-${randomBytes(6).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    const fh = await open(tmp, "wx", 0o644);
    try {
      try {
        const chunks: AsyncIterable<Uint8Array> = input instanceof Uint8Array ? [input] as unknown as AsyncIterable<Uint8Array> : input;
        // Pieces are gathered to about 1 MiB per write: one threadpool round trip each instead of one per socket read.
        let pending: Uint8Array[] = [];
        let pendingBytes = 0;
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.length;
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes < WRITE_BATCH) continue;
          await writeAll(fh, pending, pendingBytes);
          pending = [];
          pendingBytes = 0;
        }
        if (pendingBytes > 0) await writeAll(fh, pending, pendingBytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = `sha256:${hash.digest("hex")}`;
      if (expected.size !== undefined && expected.size !== size) {
        throw new InvalidInputError(`blob ${expected.digest ?? digest} has ${size} bytes, expected ${expected.size}`, { hint: "the download was cut short or the source is corrupt; nothing was stored, try again" });
      }
      if (expected.digest !== undefined && expected.digest !== digest) {
        throw new InvalidInputError(`blob content does not match its digest: expected ${expected.digest}, got ${digest}`, { hint: "the source is corrupt or tampered with; nothing was stored" });
      }
      await rename(tmp, this.blobPath(digest));
      await syncDir(this.blobsDir);
      return { digest, size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
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
