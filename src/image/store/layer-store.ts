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
import { Transform, type Readable } from "node:stream";
import { InvalidInputError } from "../../errors.js";
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

export function layerId(diffId: string): string {
  return digestHex(diffId).slice(0, ID_LENGTH);
}

export class LayerStore {
  /** `root` is `$STACK_STATE_DIR/layers`. */
  constructor(readonly root: string, private readonly special: SpecialFiles) {}

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
    if (expectedDiffId !== undefined && (await this.has(expectedDiffId))) {
      return { diffId: expectedDiffId, dir: this.dirOf(expectedDiffId), tarSize: 0, skippedXattrs: [] };
    }
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    await this.sweepTemporary();
    const tmp = join(this.root, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
    await mkdir(tmp, { mode: 0o755 });
    try {
      const hash = createHash("sha256");
      let tarSize = 0;
      const hashing = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          tarSize += chunk.length;
          cb(null, chunk);
        },
      });
      const source = await openTar();
      source.on("error", (e) => hashing.destroy(e));
      // The tar reader (and tar-stream) load with the first unpack: a cached build or a `stack ps` never needs them.
      const { extractLayer } = await import("../tar/extract-layer.js");
      const result = await extractLayer(source.pipe(hashing), tmp, this.special);
      await options.beforeCommit?.();
      const diffId = `sha256:${hash.digest("hex")}`;
      if (expectedDiffId !== undefined && diffId !== expectedDiffId) {
        throw new InvalidInputError(`layer ${what} unpacks to ${diffId}, but the image config says ${expectedDiffId}`, { hint: "the image is corrupt; remove it and pull or import it again" });
      }
      const dir = await this.commit(tmp, diffId);
      return { diffId, dir, tarSize, skippedXattrs: result.skippedXattrs };
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
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
