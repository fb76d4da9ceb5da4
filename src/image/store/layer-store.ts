// Unpacked layers, `$STACK_STATE_DIR/layers/<id>`, one folder per diff_id,
// used directly as overlay lowerdirs. The id is the first 12 hex digits of
// the diff_id: short, so 60+ layers fit in overlay's one-page mount options.
// A layer is unpacked into `.unpack-<pid>-<random>` beside its final place and
// renamed there only once complete and verified, so a folder named by an id
// is always whole; an interrupted unpack leaves only a temporary folder that
// the next unpack removes once its pid is gone.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { InvalidInputError } from "../../errors.js";
import type { DirectPolicy } from "../../fs/direct-write.js";
import type { SpecialFiles } from "../tar/special-files.js";
import { digestHex, syncDir } from "./content-store.js";
import { processAlive } from "../../fs/process-alive.js";

const ID_LENGTH = 12;
const TEMP_PREFIX = ".unpack-";

export interface UnpackedLayer {
  diffId: string;
  dir: string;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  skippedXattrs: string[];
}

export interface UnpackOptions {
  /**
   * Awaited after the tar is unpacked, before its digest is checked and the
   * folder takes its final name; a rejection drops the unpacked folder. A pull
   * that unpacks while downloading passes the blob's verification here, so a
   * layer from a blob that fails its digest is never kept.
   */
  beforeCommit?: () => Promise<unknown>;
}

type ExtractModule = typeof import("../tar/extract-layer.js");
type TarReaderClass = typeof import("../tar/tar-reader.js").TarReader;

/**
 * One layer being unpacked into its temporary folder. write() is
 * synchronous and keeps nothing of its piece (the caller may reuse it once
 * write returns); a refused or garbled tar throws from write() at once.
 * Exactly one of commit() and abort() ends it; a failed commit has aborted.
 */
export class LayerUnpacking {
  private readonly hash = createHash("sha256");
  private tarSize = 0;
  private readonly extractor: InstanceType<ExtractModule["LayerExtractor"]>;
  private readonly reader: InstanceType<TarReaderClass>;
  private failed = false;

  constructor(
    readonly dir: string,
    private readonly what: string,
    private readonly expectedDiffId: string | undefined,
    private readonly extract: ExtractModule,
    Reader: TarReaderClass,
    special: SpecialFiles,
    private readonly rename: (dir: string, diffId: string) => Promise<string>,
    direct?: DirectPolicy,
  ) {
    this.extractor = new extract.LayerExtractor(dir, special, direct);
    this.reader = new Reader(this.extractor);
  }

  /** The next bytes of the uncompressed tar. */
  write(piece: Buffer): void {
    if (this.failed) throw new Error("LayerUnpacking.write after a failure");
    this.hash.update(piece);
    this.tarSize += piece.length;
    try {
      this.reader.push(piece);
    } catch (e) {
      this.failed = true;
      throw this.extract.asStackError(e);
    }
  }

  /** Checks the tar's end and its diff_id, awaits `beforeCommit`, and gives the folder its id. */
  async commit(options: UnpackOptions = {}): Promise<UnpackedLayer> {
    try {
      try {
        this.reader.finish();
      } catch (e) {
        throw this.extract.asStackError(e);
      }
      const result = await this.extractor.finish();
      await options.beforeCommit?.();
      const diffId = `sha256:${this.hash.digest("hex")}`;
      if (this.expectedDiffId !== undefined && diffId !== this.expectedDiffId) {
        throw new InvalidInputError(`layer ${this.what} unpacks to ${diffId}, but the image config says ${this.expectedDiffId}`, { hint: "the image is corrupt; remove it and pull or import it again" });
      }
      const dir = await this.rename(this.dir, diffId);
      return { diffId, dir, tarSize: this.tarSize, skippedXattrs: result.skippedXattrs };
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Drops the temporary folder. */
  async abort(): Promise<void> {
    this.failed = true;
    await this.extractor.abort();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function layerId(diffId: string): string {
  return digestHex(diffId).slice(0, ID_LENGTH);
}

export class LayerStore {
  /** `root` is `$STACK_STATE_DIR/layers`; `direct`: which unpacked files are written past the page cache (default: fs/direct-write.ts's measured choice). */
  constructor(
    readonly root: string,
    private readonly special: SpecialFiles,
    private readonly direct?: DirectPolicy,
  ) {}

  dirOf(diffId: string): string {
    return join(this.root, layerId(diffId));
  }

  async has(diffId: string): Promise<boolean> {
    try {
      return (await stat(this.dirOf(diffId))).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Unpacks an uncompressed layer tar. With `expectedDiffId`, an already
   * unpacked layer is reused without reading `openTar`, and a tar whose digest
   * differs is refused. Two processes unpacking the same layer both succeed:
   * the second rename finds the folder in place and drops its own copy.
   * `openTar` is called at most once.
   */
  async unpack(openTar: () => Readable | Promise<Readable>, what: string, expectedDiffId?: string, options: UnpackOptions = {}): Promise<UnpackedLayer> {
    const unpacking = await this.begin(what, expectedDiffId);
    if (unpacking === null) return { diffId: expectedDiffId!, dir: this.dirOf(expectedDiffId!), tarSize: 0, skippedXattrs: [] };
    let source: Readable | undefined;
    try {
      source = await openTar();
      for await (const piece of source as AsyncIterable<Buffer>) unpacking.write(piece);
    } catch (e) {
      source?.destroy();
      await unpacking.abort();
      throw e;
    }
    return unpacking.commit(options);
  }

  /**
   * Starts unpacking a layer whose tar the caller pushes piece by piece
   * (LayerUnpacking.write), then commits or aborts. Null when
   * `expectedDiffId` is already unpacked.
   */
  async begin(what: string, expectedDiffId?: string): Promise<LayerUnpacking | null> {
    if (expectedDiffId !== undefined && (await this.has(expectedDiffId))) return null;
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    await this.sweepTemporary();
    const tmp = join(this.root, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
    await mkdir(tmp, { mode: 0o755 });
    // The extractor loads with the first unpack: a cached build or a `stack ps` never needs it.
    const extract = await import("../tar/extract-layer.js");
    const { TarReader } = await import("../tar/tar-reader.js");
    return new LayerUnpacking(tmp, what, expectedDiffId, extract, TarReader, this.special, (dir, diffId) => this.commit(dir, diffId), this.direct);
  }

  /** Gives a complete temporary folder its id; when another process got there first, theirs stays and ours goes. */
  private async commit(tmp: string, diffId: string): Promise<string> {
    const dir = this.dirOf(diffId);
    try {
      await rename(tmp, dir);
      await syncDir(this.root);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
      await rm(tmp, { recursive: true, force: true });
    }
    return dir;
  }

  /**
   * Adds a layer whose folder the caller writes itself (the image builder,
   * which writes a COPY's files and its tar in one pass): `fill` gets an empty
   * temporary folder and returns the diff_id of what it wrote. As with
   * unpack(), the folder appears under its id only once complete.
   */
  async create(fill: (dir: string) => Promise<string>): Promise<UnpackedLayer> {
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    await this.sweepTemporary();
    const tmp = join(this.root, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
    await mkdir(tmp, { mode: 0o755 });
    try {
      const diffId = await fill(tmp);
      return { diffId, dir: await this.commit(tmp, diffId), tarSize: 0, skippedXattrs: [] };
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  async remove(diffId: string): Promise<void> {
    // Rename first so that a half-deleted folder never carries a valid id.
    const dir = this.dirOf(diffId);
    const doomed = join(this.root, `${TEMP_PREFIX}${process.pid}-rm-${randomBytes(6).toString("hex")}`);
    try {
      await rename(dir, doomed);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    await rm(doomed, { recursive: true, force: true });
  }

  private async sweepTemporary(): Promise<void> {
    for (const name of await readdir(this.root)) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      const pid = Number(name.slice(TEMP_PREFIX.length).split("-")[0]);
      if (pid !== process.pid && !processAlive(pid)) await rm(join(this.root, name), { recursive: true, force: true });
    }
  }
}
