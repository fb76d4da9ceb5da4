// The local image store: content-addressed blobs and names under
// `$STACK_STATE_DIR/images` (an OCI image layout), unpacked layers under
// `$STACK_STATE_DIR/layers`. The runtime asks it for an image's lowerdirs and
// config; the registry client and the builder write blobs and then add an
// image whose blobs are all present.
//
// Concurrency: blob writes and layer unpacks are idempotent and end in an
// atomic rename, so they run in parallel; only changes to index.json and the
// sweep of a removed image's content hold the store lock. A commit re-checks
// under the lock that every blob it names is present, so a concurrent removal
// can never leave a name pointing at missing content.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { ConflictError, InternalError, InvalidInputError, NotFoundError } from "../../errors.js";
import { writeJsonAtomic } from "../../fs/atomic-write.js";
import type { DirectPolicy } from "../../fs/direct-write.js";
import { familiarReference, normalizeReference, parseReference, repositoryName } from "../reference.js";
import { detectFileCompression, openDecompressed, type Compression } from "../tar/decompress.js";
import { systemSpecialFiles, type SpecialFiles } from "../tar/special-files.js";
import { applyChanges } from "./changes.js";
import { ContentStore, type BlobInfo, type BlobWriting, type ExpectedBlob } from "./content-store.js";
import { digestOfRef, emptyIndex, manifestDigests, refsOfDigest, removeRef, setRef, type ImageIndex } from "./image-index.js";
import { LayerStore } from "./layer-store.js";
import { procMountTable, type MountTable } from "./mount-table.js";
import { CONFIG_MEDIA_TYPES, LAYER_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaTypes, type ImageManifest, type OciImage, type OciImageConfig } from "./oci-types.js";
import { withStoreLock } from "./store-lock.js";

export interface ImageRecord {
  /** Docker's image ID: the config digest ("sha256:…"). The short ID is its first 12 hex digits. */
  id: string;
  /** The manifest digest. */
  digest: string;
  /** Full normalised references naming this image ("docker.io/library/busybox:latest"), sorted; empty only mid-removal. */
  names: string[];
  manifest: ImageManifest;
  /** The image config blob: platform, rootfs diff_ids, history, and `config` (Env, Cmd, Entrypoint, User, …). */
  image: OciImage;
  /** RFC 3339, from the config; may be absent in pulled images. */
  created?: string;
  /** Sum of the layer blobs' sizes as stored (compressed when they are). */
  size: number;
}

export interface ImportOptions {
  /** Dockerfile-style instructions applied to the config (`CMD ["sh"]`, `ENV A=b`, …). */
  changes?: string[];
  created?: Date;
  /** Recorded in the image history, like `docker import --message`. */
  message?: string;
}

export interface ImageStoreDependencies {
  special?: SpecialFiles;
  mounts?: MountTable;
  /** Told about what an unpack could not keep (binary xattr values); the CLI prints it as a warning. */
  warn?: (message: string) => void;
  /** Which blobs and unpacked files are written past the page cache (default: measured, fs/direct-write.ts). */
  writeDirect?: DirectPolicy;
}

const ARCHITECTURES: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

const LAYER_MEDIA_TYPE: Record<Compression, string> = {
  none: MediaTypes.ociLayer,
  gzip: MediaTypes.ociLayerGzip,
  zstd: MediaTypes.ociLayerZstd,
};

export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

function notFound(ref: string): NotFoundError {
  return new NotFoundError(`no such image: ${JSON.stringify(ref)}`, { hint: "`stack images` lists the local images; import one with `stack image import FILE NAME`" });
}

/** Checks a manifest's shape and media types before it is stored. */
export function checkManifest(manifest: ImageManifest, what: string): void {
  const fail = (why: string) => new InvalidInputError(`manifest ${what} ${why}`, { hint: "only OCI and Docker v2 schema 2 image manifests are supported" });
  if (manifest?.schemaVersion !== 2) throw fail(`has schemaVersion ${JSON.stringify(manifest?.schemaVersion)}, expected 2`);
  if (manifest.mediaType !== undefined && !MANIFEST_MEDIA_TYPES.includes(manifest.mediaType)) throw fail(`has media type ${JSON.stringify(manifest.mediaType)}`);
  if (!manifest.config || !CONFIG_MEDIA_TYPES.includes(manifest.config.mediaType)) throw fail(`has config media type ${JSON.stringify(manifest.config?.mediaType)}`);
  if (!Array.isArray(manifest.layers)) throw fail("has no layers list");
  manifest.layers.forEach((l, i) => {
    if (!LAYER_MEDIA_TYPES.includes(l.mediaType)) throw fail(`layers[${i}] has media type ${JSON.stringify(l.mediaType)}`);
  });
}

export class ImageStore {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  private readonly indexPath: string;
  private readonly lockPath: string;
  private readonly layoutPath: string;
  private readonly mounts: MountTable;
  private readonly warn: (message: string) => void;

  constructor(readonly stateDir: string, deps: ImageStoreDependencies = {}) {
    const root = join(stateDir, "images");
    this.content = new ContentStore(root, deps.writeDirect);
    this.layers = new LayerStore(join(stateDir, "layers"), deps.special ?? systemSpecialFiles, deps.writeDirect);
    this.indexPath = join(root, "index.json");
    this.lockPath = join(root, "lock");
    this.layoutPath = join(root, "oci-layout");
    this.mounts = deps.mounts ?? procMountTable;
    this.warn = deps.warn ?? (() => undefined);
  }

  // ---- blobs, for the registry client and the builder ----

  writeBlob(input: Readable | Uint8Array, expected?: ExpectedBlob): Promise<BlobInfo> {
    return this.content.write(input, expected);
  }

  /** A blob written piece by piece (a download), verified at its commit. */
  beginBlob(expected?: ExpectedBlob): Promise<BlobWriting> {
    return this.content.begin(expected);
  }

  hasBlob(digest: string): Promise<boolean> {
    return this.content.has(digest);
  }

  readBlob(digest: string): Promise<Buffer> {
    return this.content.read(digest);
  }

  blobPath(digest: string): string {
    return this.content.blobPath(digest);
  }

  // ---- images ----

  /** Imports a rootfs tarball (plain, gzip or zstd) as a one-layer image named `ref`, like `docker import`. */
  async importRootfs(input: Readable, ref: string, options: ImportOptions = {}): Promise<ImageRecord> {
    const name = normalizeReference(ref);
    const imageConfig = applyChanges({}, options.changes ?? []);
    const blob = await this.content.write(input);
    const what = `for ${familiarReference(parseReference(ref))}`;
    let compression: Compression;
    let diffId: string;
    try {
      const path = this.content.blobPath(blob.digest);
      compression = await detectFileCompression(path, `the archive ${what}`);
      const layer = await this.layers.unpack(() => openDecompressed(path, compression, `the archive ${what}`), `the archive ${what}`);
      this.reportSkipped(`the archive ${what}`, layer.skippedXattrs);
      diffId = layer.diffId;
    } catch (e) {
      await this.dropUnreferencedBlob(blob.digest);
      throw e;
    }
    const created = (options.created ?? new Date()).toISOString();
    const image: OciImage = {
      created,
      architecture: ARCHITECTURES[process.arch] ?? process.arch,
      os: "linux",
      config: imageConfig,
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created, created_by: "stack image import", ...(options.message ? { comment: options.message } : {}) }],
    };
    const configBlob = await this.content.write(Buffer.from(JSON.stringify(image)));
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: configBlob.digest, size: configBlob.size },
      layers: [{ mediaType: LAYER_MEDIA_TYPE[compression], digest: blob.digest, size: blob.size }],
    };
    return this.addImage(manifest, [name]);
  }

  /**
   * Stores `manifest` (an object, or its exact bytes as pulled so its digest
   * is kept) and names it `refs`. Its config and layer blobs must already be
   * in the store (writeBlob); layers are unpacked later, on first layerDirs().
   * The manifest's own blob may be there already (a pull writes it early).
   */
  async addImage(manifest: ImageManifest | Uint8Array, refs: string[]): Promise<ImageRecord> {
    const bytes = manifest instanceof Uint8Array ? manifest : Buffer.from(JSON.stringify(manifest));
    let parsed: ImageManifest;
    try {
      parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as ImageManifest;
    } catch (e) {
      throw new InvalidInputError("the image manifest is not JSON", { hint: "the registry or archive is corrupt", cause: e });
    }
    checkManifest(parsed, "to add");
    if (refs.length === 0) throw new InternalError("addImage needs at least one name: an unnamed image could never be found or removed");
    const names = refs.map(normalizeReference);
    const config = JSON.parse((await this.content.read(parsed.config.digest)).toString("utf8")) as OciImage;
    if (config.rootfs?.diff_ids?.length !== parsed.layers.length) {
      throw new InvalidInputError(`image config ${parsed.config.digest} lists ${config.rootfs?.diff_ids?.length ?? 0} diff_ids for ${parsed.layers.length} layers`, { hint: "the image is corrupt; rebuild or pull it again" });
    }
    // A pull stores the manifest's blob while its layers download: not written twice.
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const stored = (await this.content.has(digest)) ? { digest, size: bytes.length } : await this.content.write(bytes);
    const descriptor = { mediaType: parsed.mediaType ?? MediaTypes.ociManifest, digest: stored.digest, size: stored.size };
    await withStoreLock(this.lockPath, async () => {
      for (const d of [stored.digest, parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
        if (!(await this.content.has(d))) {
          throw new ConflictError(`blob ${d} of the new image was removed while it was being added`, { hint: "an image was removed at the same time; run the command again" });
        }
      }
      let index = await this.readIndex();
      for (const name of names) index = setRef(index, name, descriptor);
      if (!existsSync(this.layoutPath)) writeJsonAtomic(this.layoutPath, { imageLayoutVersion: "1.0.0" });
      writeJsonAtomic(this.indexPath, index);
    });
    return this.recordOf(stored.digest, await this.readIndex());
  }

  /** Gives the image `source` (a name or ID) the extra name `ref`. */
  async tag(source: string, ref: string): Promise<ImageRecord> {
    const image = await this.get(source);
    return this.addImage(await this.content.read(image.digest), [ref]);
  }

  /**
   * The image named by `ref`: a name (normalised as Docker does), a full
   * image ID or manifest digest ("sha256:…"), or a unique prefix of the image
   * ID. Names win over ID prefixes. Undefined when nothing matches.
   */
  async resolve(ref: string): Promise<ImageRecord | undefined> {
    const index = await this.readIndex();
    let byName: string | undefined;
    try {
      const parsed = parseReference(ref);
      const full = normalizeReference(ref);
      byName = digestOfRef(index, full);
      if (byName === undefined && parsed.digest !== undefined && manifestDigests(index).includes(parsed.digest)) {
        // name@digest: any image of that repository with that manifest digest.
        const repo = repositoryName(parsed);
        if (refsOfDigest(index, parsed.digest).some((r) => repositoryName(parseReference(r)) === repo)) byName = parsed.digest;
      }
    } catch {
      // not a valid name; maybe an ID
    }
    if (byName !== undefined) return this.recordOf(byName, index);
    const hex = ref.replace(/^sha256:/, "");
    if (!/^[a-f0-9]{1,64}$/.test(hex)) return undefined;
    const records = await this.recordsOf(index);
    const exact = records.find((r) => r.id === `sha256:${hex}` || r.digest === `sha256:${hex}`);
    if (exact) return exact;
    if (ref.startsWith("sha256:") && hex.length === 64) return undefined;
    const matches = records.filter((r) => r.id.startsWith(`sha256:${hex}`));
    const ids = new Set(matches.map((m) => m.id));
    if (ids.size > 1) throw new ConflictError(`image ID prefix ${JSON.stringify(ref)} is ambiguous: it matches ${[...ids].sort().map(shortId).join(", ")}`, { hint: "give more digits of the ID" });
    return matches[0];
  }

  /** Like resolve(), but a missing image is a NotFoundError. */
  async get(ref: string): Promise<ImageRecord> {
    const image = await this.resolve(ref);
    if (!image) throw notFound(ref);
    return image;
  }

  /** Every image (one record per manifest), sorted by first name. */
  async list(): Promise<ImageRecord[]> {
    return this.recordsOf(await this.readIndex());
  }

  /**
   * Removes a name, or an image by ID. An image whose last name goes is
   * deleted with every blob and unpacked layer that no other image uses.
   * Refused (ConflictError) unless `force`: an ID naming an image with several
   * names, and an image whose layers are mounted (a container uses them; with
   * force the names go but the mounted layer folders stay). Returns Docker's
   * lines: "Untagged: busybox:latest", "Deleted: sha256:…".
   */
  async remove(ref: string, options: { force?: boolean } = {}): Promise<string[]> {
    return withStoreLock(this.lockPath, async () => {
      let index = await this.readIndex();
      const image = await this.get(ref);
      const byName = image.names.includes(tryNormalize(ref) ?? "");
      const untag = byName ? [tryNormalize(ref)!] : image.names;
      if (!byName && image.names.length > 1 && !options.force) {
        throw new ConflictError(`image ${shortId(image.id)} has several names (${image.names.map((n) => familiarReference(parseReference(n))).join(", ")})`, {
          hint: "remove it by name, or use --force to remove all of them",
        });
      }
      const lines: string[] = [];
      const deleting = untag.length === image.names.length;
      const mounted = deleting ? await this.mountedLayers(image) : [];
      if (mounted.length > 0 && !options.force) {
        throw new ConflictError(`image ${familiarReference(parseReference(image.names[0] ?? ref))} is in use: its layer ${mounted[0]} is mounted`, {
          hint: "stop and remove the containers that use it (`stack down`), or use --force",
        });
      }
      for (const name of untag) {
        index = removeRef(index, name);
        lines.push(`Untagged: ${familiarReference(parseReference(name))}`);
      }
      writeJsonAtomic(this.indexPath, index);
      if (deleting) {
        await this.sweep(image, index, new Set(mounted));
        lines.push(`Deleted: ${image.id}`);
      }
      return lines;
    });
  }

  /** The image's layer folders as overlay wants them, top-most first; layers not yet unpacked are unpacked now. */
  async layerDirs(image: ImageRecord): Promise<string[]> {
    const dirs: string[] = [];
    const diffIds = image.image.rootfs.diff_ids;
    for (let i = 0; i < image.manifest.layers.length; i++) {
      const layer = image.manifest.layers[i]!;
      const diffId = diffIds[i]!;
      const what = `${i + 1}/${diffIds.length} (${layer.digest}) of image ${shortId(image.id)}`;
      const path = this.content.blobPath(layer.digest);
      const open = async () => {
        if (!(await this.content.has(layer.digest))) {
          throw new NotFoundError(`layer ${what} is missing from the image store`, { hint: "pull or import the image again" });
        }
        return openDecompressed(path, await detectFileCompression(path, `layer ${what}`), `layer ${what}`);
      };
      const unpacked = await this.layers.unpack(open, what, diffId);
      this.reportSkipped(`layer ${what}`, unpacked.skippedXattrs);
      dirs.push(unpacked.dir);
    }
    return dirs.reverse();
  }

  /**
   * What the runtime needs to start a container of `ref`: the image ID, the
   * run config (Env, Cmd, Entrypoint, User, …; `{}` when the image has none)
   * and the overlay lowerdirs, top-most first, unpacked now if needed.
   */
  async rootfsOf(ref: string): Promise<{ id: string; config: OciImageConfig; lowerdirs: string[] }> {
    const image = await this.get(ref);
    return { id: image.id, config: image.image.config ?? {}, lowerdirs: await this.layerDirs(image) };
  }

  /** The image config (platform, rootfs, history, and the run config under `.config`). */
  async config(image: ImageRecord): Promise<OciImage> {
    return image.image;
  }

  // ---- internals ----

  private reportSkipped(what: string, skipped: string[]): void {
    if (skipped.length === 0) return;
    const shown = skipped.slice(0, 3).join(", ") + (skipped.length > 3 ? `, and ${skipped.length - 3} more` : "");
    this.warn(`${what}: ${skipped.length} extended attribute(s) with binary values were not kept (${shown})`);
  }

  private async readIndex(): Promise<ImageIndex> {
    try {
      return JSON.parse(await readFile(this.indexPath, "utf8")) as ImageIndex;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyIndex();
      throw new InvalidInputError(`the image store index ${this.indexPath} is not valid JSON`, { hint: "restore it from a backup or remove the images folder and import again", cause: e });
    }
  }

  private async recordOf(digest: string, index: ImageIndex): Promise<ImageRecord> {
    const manifest = JSON.parse((await this.content.read(digest)).toString("utf8")) as ImageManifest;
    const image = JSON.parse((await this.content.read(manifest.config.digest)).toString("utf8")) as OciImage;
    return {
      id: manifest.config.digest,
      digest,
      names: refsOfDigest(index, digest),
      manifest,
      image,
      ...(image.created ? { created: image.created } : {}),
      size: manifest.layers.reduce((sum, l) => sum + l.size, 0),
    };
  }

  private async recordsOf(index: ImageIndex): Promise<ImageRecord[]> {
    const records = await Promise.all(manifestDigests(index).map((d) => this.recordOf(d, index)));
    return records.sort((a, b) => ((a.names[0] ?? a.digest) < (b.names[0] ?? b.digest) ? -1 : 1));
  }

  private async mountedLayers(image: ImageRecord): Promise<string[]> {
    const lowers = await this.mounts.overlayLowerdirs();
    return image.image.rootfs.diff_ids.map((d) => this.layers.dirOf(d)).filter((d) => lowers.has(d)).sort();
  }

  /** Deletes what `removed` used and no image left in `index` uses (called under the lock). */
  private async sweep(removed: ImageRecord, index: ImageIndex, keepDirs: Set<string>): Promise<void> {
    const blobsInUse = new Set<string>();
    const diffIdsInUse = new Set<string>();
    for (const other of await this.recordsOf(index)) {
      blobsInUse.add(other.digest);
      blobsInUse.add(other.id);
      for (const l of other.manifest.layers) blobsInUse.add(l.digest);
      for (const d of other.image.rootfs.diff_ids) diffIdsInUse.add(d);
    }
    for (const d of [...new Set(removed.image.rootfs.diff_ids)].sort()) {
      if (!diffIdsInUse.has(d) && !keepDirs.has(this.layers.dirOf(d))) await this.layers.remove(d);
    }
    for (const b of [...new Set([removed.digest, removed.id, ...removed.manifest.layers.map((l) => l.digest)])].sort()) {
      if (!blobsInUse.has(b)) await this.content.delete(b);
    }
  }

  /** After a failed import: the blob goes unless an image (maybe a concurrent import) uses it. */
  private async dropUnreferencedBlob(digest: string): Promise<void> {
    await withStoreLock(this.lockPath, async () => {
      for (const r of await this.list()) if (r.manifest.layers.some((l) => l.digest === digest)) return;
      await this.content.delete(digest);
    });
  }
}

function tryNormalize(ref: string): string | undefined {
  try {
    return normalizeReference(ref);
  } catch {
    return undefined;
  }
}
