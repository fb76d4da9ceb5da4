// `stack image save` and `stack image load`: image archives that both Docker
// and OCI tools read. A saved archive is an OCI image layout (oci-layout,
// index.json with each name in `io.containerd.image.name` and its tag in
// `org.opencontainers.image.ref.name`, blobs/sha256/…) that also carries
// Docker's manifest.json pointing at the same blobs — the layout `docker
// save` has written since Docker 25. Loading reads that, plain OCI archives
// (skopeo's oci-archive) and older docker-save archives (<id>/layer.tar),
// plain or gzip/zstd-compressed. Blobs are verified against their digests,
// and every layer is unpacked and checked against its diff_id before a name
// is given, so a broken archive leaves no image behind.
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import * as tar from "tar-stream";
import { InvalidInputError, NotFoundError, SystemError } from "../../errors.js";
import { familiarReference, normalizeReference, parseReference } from "../reference.js";
import { ImageStore, checkManifest, MediaTypes, type Descriptor, type ImageManifest, type ImageRecord, type OciImage } from "../store/index.js";
import { detectFileCompression, openDecompressed } from "../tar/decompress.js";
import { REF_ANNOTATION, CONTAINERD_NAME_ANNOTATION } from "../store/image-index.js";
import { unpackStoredLayer } from "./layer-stream.js";
import { classifyManifest } from "./manifest.js";
import { hostPlatform, selectManifest } from "./platform.js";

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const blobName = (digest: string) => `blobs/sha256/${digest.slice("sha256:".length)}`;

/** Writes `refs` (names or IDs) to `file` atomically (a temporary file beside it, renamed when complete). */
export async function saveImages(store: ImageStore, refs: string[], file: string): Promise<{ images: number; blobs: number }> {
  if (refs.length === 0) throw new InvalidInputError("image save: no image given", { hint: "stack image save -o FILE IMAGE…" });
  const picked: Array<{ record: ImageRecord; name?: string }> = [];
  for (const ref of refs) {
    const record = await store.get(ref);
    const asName = (() => {
      try {
        const full = normalizeReference(ref);
        return record.names.includes(full) ? full : undefined;
      } catch {
        return undefined;
      }
    })();
    picked.push({ record, ...(asName ? { name: asName } : {}) });
  }
  const blobs = new Map<string, number>();
  const indexEntries: Descriptor[] = [];
  const dockerEntries = new Map<string, DockerManifestEntry>();
  for (const { record, name } of picked) {
    for (const d of [record.digest, record.manifest.config.digest, ...record.manifest.layers.map((l) => l.digest)]) blobs.set(d, 0);
    const mediaType = record.manifest.mediaType ?? MediaTypes.ociManifest;
    const size = (await store.readBlob(record.digest)).length;
    const parsed = name ? parseReference(name) : undefined;
    indexEntries.push({
      mediaType,
      digest: record.digest,
      size,
      ...(name ? { annotations: { [CONTAINERD_NAME_ANNOTATION]: name, ...(parsed?.tag ? { [REF_ANNOTATION]: parsed.tag } : {}) } } : {}),
    });
    const entry = dockerEntries.get(record.digest) ?? { Config: blobName(record.manifest.config.digest), RepoTags: [], Layers: record.manifest.layers.map((l) => blobName(l.digest)) };
    if (parsed?.tag) entry.RepoTags!.push(familiarReference({ domain: parsed.domain, path: parsed.path, tag: parsed.tag }));
    dockerEntries.set(record.digest, entry);
  }
  const dockerManifest = [...dockerEntries.values()].map((e) => ({ ...e, RepoTags: e.RepoTags!.length > 0 ? e.RepoTags : null }));
  const index = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: indexEntries };

  const folder = dirname(file);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new NotFoundError(`image save: folder ${JSON.stringify(folder)} of ${JSON.stringify(file)} does not exist`, { hint: "create it first, or write the archive somewhere else with -o" });
  }
  const tmp = join(folder, `.${posix.basename(file)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  const pack = tar.pack();
  const writing = pipeline(pack, createWriteStream(tmp, { mode: 0o644 }));
  const mtime = new Date(0);
  const add = (name: string, content: Buffer) =>
    new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644, mtime, size: content.length }, content, (e) => (e ? reject(e) : resolve())));
  try {
    pack.entry({ name: "blobs/", type: "directory", mode: 0o755, mtime });
    pack.entry({ name: "blobs/sha256/", type: "directory", mode: 0o755, mtime });
    for (const digest of [...blobs.keys()].sort()) {
      const path = store.blobPath(digest);
      const size = statSync(path).size;
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ name: blobName(digest), mode: 0o644, mtime, size }, (e) => (e ? reject(e) : resolve()));
        pipeline(createReadStream(path), entry).catch(reject);
      });
    }
    await add("index.json", Buffer.from(JSON.stringify(index)));
    await add("manifest.json", Buffer.from(JSON.stringify(dockerManifest)));
    await add("oci-layout", Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
    pack.finalize();
    await writing;
    await rename(tmp, file);
  } catch (e) {
    pack.destroy();
    await writing.catch(() => undefined);
    await rm(tmp, { force: true });
    if ((e as NodeJS.ErrnoException).code !== undefined && !(e instanceof NotFoundError)) {
      throw new SystemError(`image save: cannot write ${JSON.stringify(file)}: ${(e as Error).message}`, { hint: "check free space and permissions of the folder", cause: e });
    }
    throw e;
  }
  return { images: picked.length, blobs: blobs.size };
}

/** The archive's members extracted to a temporary folder: regular files, and links resolved inside the archive. */
class ExtractedArchive {
  private readonly links = new Map<string, string>();
  private readonly files = new Set<string>();
  constructor(readonly dir: string, private readonly source: string) {}

  static clean(name: string, source: string): string {
    const cleaned = posix.normalize(name.replace(/^\/+/, "")).replace(/\/+$/, "");
    if (cleaned === ".." || cleaned.startsWith("../") || cleaned === "") {
      throw new InvalidInputError(`${source}: archive member ${JSON.stringify(name)} points outside the archive`, { hint: "the archive is corrupt or hostile; it was not loaded" });
    }
    return cleaned === "." ? "" : cleaned;
  }

  async extract(input: Readable): Promise<void> {
    const extract = tar.extract();
    const done = pipeline(input, extract);
    done.catch(() => undefined); // a refusal below ends the loop early; its own error is the one reported
    for await (const entry of extract) {
      const h = entry.header;
      const name = ExtractedArchive.clean(h.name, this.source);
      if (h.type === "file" || h.type === "contiguous-file") {
        if (name === "") throw new InvalidInputError(`${this.source}: a file entry names the archive root`);
        const path = join(this.dir, "m", name);
        await mkdir(dirname(path), { recursive: true });
        if (existsSync(path) && !statSync(path).isFile()) throw new InvalidInputError(`${this.source}: member ${JSON.stringify(h.name)} collides with a folder`);
        await pipeline(entry, createWriteStream(path));
        this.files.add(name);
        this.links.delete(name);
      } else if (h.type === "symlink" || h.type === "link") {
        const target = h.type === "symlink" ? posix.join(posix.dirname(name), h.linkname ?? "") : h.linkname ?? "";
        this.links.set(name, ExtractedArchive.clean(target, this.source));
        entry.resume();
      } else {
        entry.resume();
      }
    }
    await done;
  }

  has(name: string): boolean {
    try {
      this.path(name);
      return true;
    } catch {
      return false;
    }
  }

  /** The extracted file of a member, following links (at most 16). */
  path(name: string): string {
    let current = ExtractedArchive.clean(name, this.source);
    for (let i = 0; i < 16; i++) {
      if (this.files.has(current)) {
        const p = join(this.dir, "m", current);
        // Files were written by name under the temporary folder, never through a link.
        if (!realpathSync(p).startsWith(join(realpathSync(this.dir), "m") + "/")) break;
        return p;
      }
      const next = this.links.get(current);
      if (next === undefined) break;
      current = next;
    }
    throw new NotFoundError(`${this.source}: the archive has no member ${JSON.stringify(name)}`, { hint: "the archive is incomplete; save or export it again" });
  }

  read(name: string, limit = 16 * 1024 * 1024): Buffer {
    const p = this.path(name);
    if (statSync(p).size > limit) throw new InvalidInputError(`${this.source}: ${name} is larger than ${limit} bytes`, { hint: "the archive is corrupt" });
    return readFileSync(p);
  }

  json<T>(name: string): T {
    try {
      return JSON.parse(this.read(name).toString("utf8")) as T;
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof InvalidInputError) throw e;
      throw new InvalidInputError(`${this.source}: ${name} is not valid JSON`, { hint: "the archive is corrupt", cause: e });
    }
  }
}

export interface LoadOptions {
  /** Temporary space for the extracted archive (default: beside the image store). */
  tmpDir?: string;
}

/** Loads every image of an archive; returns the names given (familiar form), in archive order. */
export async function loadArchive(store: ImageStore, file: string, options: LoadOptions = {}): Promise<string[]> {
  const source = file;
  if (!existsSync(file) || !statSync(file).isFile()) throw new NotFoundError(`image load: ${JSON.stringify(file)} is not a file`, { hint: "give an archive made by `stack image save` or `docker save`" });
  const tmpRoot = options.tmpDir ?? join(store.stateDir, "registry", "tmp");
  await mkdir(tmpRoot, { recursive: true });
  const dir = join(tmpRoot, `load-${process.pid}-${randomBytes(4).toString("hex")}`);
  await mkdir(dir);
  try {
    const archive = new ExtractedArchive(dir, source);
    await archive.extract(openDecompressed(file, await detectFileCompression(file, source), source));
    const dockerEntries = archive.has("manifest.json") ? archive.json<DockerManifestEntry[]>("manifest.json") : undefined;
    if (dockerEntries !== undefined && !Array.isArray(dockerEntries)) throw new InvalidInputError(`${source}: manifest.json is not a list`, { hint: "the archive is corrupt" });
    // Names are given only once every image of the archive is stored and verified: all or nothing.
    const pending: Array<{ bytes: Buffer; names: string[] }> = [];
    if (archive.has("index.json")) {
      const index = classifyManifest(archive.read("index.json"), undefined, `${source}: index.json`);
      if (index.kind !== "index") throw new InvalidInputError(`${source}: index.json is not an image index`);
      for (const [i, entry] of index.index.manifests.entries()) {
        const what = `${source}: index.json manifests[${i}]`;
        let chosen = entry;
        let fetched = classifyManifest(await blob(archive, chosen), chosen.mediaType, what);
        if (fetched.kind === "index") {
          chosen = selectManifest(fetched.index.manifests, hostPlatform(), what);
          fetched = classifyManifest(await blob(archive, chosen), chosen.mediaType, what);
        }
        if (fetched.kind !== "manifest") throw new InvalidInputError(`${what} is not an image manifest`);
        checkManifest(fetched.manifest, `${what} (${fetched.digest})`);
        const names = namesOf(entry, dockerEntries?.find((d) => d.Config === blobName(fetched.manifest.config.digest))?.RepoTags ?? undefined);
        if (names.length === 0) {
          throw new InvalidInputError(`${what} (${fetched.digest}) has no image name`, { hint: `the archive does not say what to call it; save it again with a name (annotation ${CONTAINERD_NAME_ANNOTATION})` });
        }
        await storeImage(store, archive, fetched.manifest, fetched.bytes, what);
        pending.push({ bytes: fetched.bytes, names });
      }
    } else if (dockerEntries) {
      for (const [i, entry] of dockerEntries.entries()) {
        const what = `${source}: manifest.json[${i}]`;
        if (typeof entry?.Config !== "string" || !Array.isArray(entry.Layers)) throw new InvalidInputError(`${what} needs Config and Layers`, { hint: "the archive is corrupt" });
        const names = (entry.RepoTags ?? []).map((t) => normalizeReference(t));
        if (names.length === 0) throw new InvalidInputError(`${what} has no RepoTags`, { hint: "save the image by name, not by ID" });
        const configBytes = archive.read(entry.Config);
        const config = await store.writeBlob(configBytes);
        const layers: Descriptor[] = [];
        for (const layerName of entry.Layers) {
          const path = archive.path(layerName);
          const compression = await detectFileCompression(path, `${what} layer ${layerName}`);
          const info = await store.writeBlob(createReadStream(path));
          layers.push({ mediaType: compression === "gzip" ? MediaTypes.ociLayerGzip : compression === "zstd" ? MediaTypes.ociLayerZstd : MediaTypes.ociLayer, digest: info.digest, size: info.size });
        }
        const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: config.digest, size: config.size }, layers };
        const bytes = Buffer.from(JSON.stringify(manifest));
        await storeImage(store, archive, manifest, bytes, what, true);
        pending.push({ bytes, names });
      }
    } else {
      throw new InvalidInputError(`${source} is neither an OCI archive (index.json) nor a docker-save archive (manifest.json)`, { hint: "give an archive made by `stack image save`, `docker save` or `skopeo copy … oci-archive:FILE`" });
    }
    for (const p of pending) await store.addImage(p.bytes, p.names);
    return pending.flatMap((p) => p.names).map((n) => familiarReference(parseReference(n)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function blob(archive: ExtractedArchive, d: Descriptor): Promise<Buffer> {
  return archive.read(blobName(d.digest));
}

function namesOf(entry: Descriptor, repoTags: string[] | undefined): string[] {
  const a = entry.annotations ?? {};
  const candidates = [a[CONTAINERD_NAME_ANNOTATION], a[REF_ANNOTATION]].filter((n): n is string => typeof n === "string" && n !== "");
  for (const c of candidates) {
    // A bare tag ("latest") is not a name.
    if (!/[:/]/.test(c)) continue;
    try {
      return [normalizeReference(c)];
    } catch {
      // not a reference; try the next
    }
  }
  return (repoTags ?? []).map((t) => normalizeReference(t));
}

/** Copies an image's blobs into the store (verified) and unpacks its layers against the config's diff_ids; naming is the caller's. */
async function storeImage(store: ImageStore, archive: ExtractedArchive, manifest: ImageManifest, bytes: Buffer, what: string, blobsStored = false): Promise<void> {
  if (!blobsStored) {
    for (const d of [manifest.config, ...manifest.layers]) {
      if (await store.hasBlob(d.digest)) continue;
      try {
        await store.writeBlob(createReadStream(archive.path(blobName(d.digest))), { digest: d.digest, size: d.size });
      } catch (e) {
        if (e instanceof InvalidInputError) throw new InvalidInputError(`${what}: blob ${d.digest}: ${e.message}`, { hint: "the archive is corrupt; it was not loaded", cause: e });
        throw e;
      }
    }
  }
  const config = JSON.parse((await store.readBlob(manifest.config.digest)).toString("utf8")) as OciImage;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) throw new InvalidInputError(`${what}: the config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { hint: "the archive is corrupt" });
  for (const [i, l] of manifest.layers.entries()) {
    const path = store.blobPath(l.digest);
    const label = `${i + 1}/${manifest.layers.length} (${l.digest}) of ${what}`;
    await unpackStoredLayer(store.layers, path, label, diffIds[i]!);
  }
  checkManifest(JSON.parse(bytes.toString("utf8")) as ImageManifest, what);
}

