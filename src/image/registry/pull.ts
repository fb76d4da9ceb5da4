// `pullImage`: reference → manifest (an index is narrowed to one platform) →
// config → layers, downloaded in parallel straight into the image store's
// ingest area, sha256-verified while streaming and renamed into place only
// when whole. Each layer is unpacked for overlay from the download stream
// itself (each body piece goes to the ingest file and then to the unpacker
// before the next is read), so a pulled image is ready to run without reading
// its blobs back; the unpacked folder is renamed into place only after the
// blob has passed its digest and size check. Blobs already stored are not
// downloaded again (a stored blob whose layer is missing is unpacked from the
// file). Any failure stops the other downloads and leaves no partial blob,
// layer or name; a retry fetches only what is missing.
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { InvalidInputError, StackError, SystemError } from "../../errors.js";
import { directWritesBehind } from "../../fs/direct-write.js";
import { familiarReference, formatReference, parseReference, type ImageReference } from "../reference.js";
import { ImageStore, checkManifest, type BlobWriting, type Descriptor, type LayerUnpacking, type OciImage } from "../store/index.js";
import { RegistryClient, unexpected, type RegistryAccess } from "./client.js";
import { layerFeed, unpackStoredLayer, type TarFeed } from "./layer-stream.js";
import { fetchManifest, type FetchedManifest } from "./manifest.js";
import { formatPlatform, hostPlatform, parsePlatform, selectManifest, type Platform } from "./platform.js";
import { Slots, runAll } from "./pool.js";
import { recordPull } from "./pull-record.js";

export type LayerStatus = "waiting" | "exists" | "downloading" | "verifying" | "extracting" | "done";

export interface PullProgress {
  /** The reference being pulled, as the user wrote it. */
  ref: string;
  /** The layer's blob digest; the short id is its first 12 hex digits. */
  digest: string;
  status: LayerStatus;
  /** Bytes downloaded so far (compressed, as sent). */
  current: number;
  total: number;
}

export interface PullOptions extends RegistryAccess {
  stateDir: string;
  store?: ImageStore;
  ref: string;
  /** "linux/amd64", "linux/arm64/v8"; default: this machine's (linux/amd64 here). */
  platform?: string;
  onProgress?: (event: PullProgress) => void;
  /** Told about anything odd that does not stop the pull. */
  warn?: (message: string) => void;
  /** Layers downloaded at once (default 3, like Docker). */
  concurrency?: number;
  /** Unpack each layer as it arrives (default true), so the image is ready to run. */
  unpack?: boolean;
  now?: () => Date;
}

export interface PullResult {
  /** The full name the image is stored under ("docker.io/library/busybox:latest"). */
  ref: string;
  /** Image ID (config digest). */
  id: string;
  /** The digest the reference resolved to in the registry (the index's when it is one), as `docker pull` prints. */
  digest: string;
  /** The digest of the platform manifest stored. */
  manifestDigest: string;
  platform: string;
  /** Layers fetched now, and layers that were already stored. */
  downloaded: number;
  reused: number;
}

const PROGRESS_EVERY_MS = 100;
/**
 * The next layer's download starts when this many bytes of one are left: a
 * registry takes 10–50 ms to start sending a blob (docker-registry on this
 * machine), and same-sized layers started together also end together, so
 * without the overlap the main thread sat idle at every change of layers.
 */
const EARLY_START = 4 * 1024 * 1024;

/** A download in progress, which a failure elsewhere stops. */
interface Transfer {
  destroy(error: Error): void;
}

export function pullScopes(ref: ImageReference): string[] {
  return [`repository:${ref.path}:pull`];
}

export async function pullImage(options: PullOptions): Promise<PullResult> {
  const parsed = parseReference(options.ref);
  // A digest pins the content: a tag beside it is ignored, as Docker does.
  const target: ImageReference = parsed.digest ? { domain: parsed.domain, path: parsed.path, digest: parsed.digest } : parsed;
  const name = formatReference(target);
  const shown = familiarReference(target);
  const store = options.store ?? new ImageStore(options.stateDir);
  const wanted: Platform = options.platform ? parsePlatform(options.platform) : hostPlatform();
  const client = new RegistryClient(target.domain, options);
  const scopes = pullScopes(target);
  const progress = options.onProgress ?? (() => undefined);
  try {
    const top = await fetchManifest(client, target.path, target.digest ?? target.tag!, scopes);
    let chosen: FetchedManifest = top;
    if (top.kind === "index") {
      const entry = selectManifest(top.index.manifests, wanted, `${shown} (${top.digest})`);
      chosen = await fetchManifest(client, target.path, entry.digest, scopes, entry.digest);
      if (chosen.kind !== "manifest") throw new InvalidInputError(`${shown}: the index entry for ${formatPlatform(wanted)} is itself an index`, { hint: "nested indexes are not supported" });
    }
    if (chosen.kind !== "manifest") throw new InvalidInputError(`${shown}: no image manifest`);
    const manifest = chosen.manifest;
    checkManifest(manifest, `${shown}@${chosen.digest}`);

    /**
     * GETs a blob into the store, verified while streaming. With a layer
     * begun (`layerBegun` resolving to one), the same bytes also feed the
     * layer unpacker as they arrive: each body piece is written to the
     * ingest file, inflated in place and unpacked before the next is read
     * (the socket waits meanwhile), and the layer is committed only once the
     * blob has passed its digest and size check. `received` is told when
     * the last byte is in, before the commits. False when the blob was
     * already stored.
     */
    const fetchBlob = async (
      d: Descriptor,
      onBytes: (n: number) => void,
      track: (transfer: Transfer) => void,
      layerBegun: Promise<LayerUnpacking | null>,
      what: string,
      received: () => void,
    ): Promise<boolean> => {
      // The layer's folder is made while the store is asked for the blob.
      const [stored, layer] = await Promise.all([store.hasBlob(d.digest), layerBegun]);
      const unpacking = layer ? { layer, what } : undefined;
      if (stored) {
        await unpacking?.layer.abort();
        return false;
      }
      let blob: BlobWriting | undefined;
      let feed: TarFeed | undefined;
      let body: IncomingMessage | undefined;
      /** Whether the failure came from the bytes' content (a refused tar, a corrupt gzip) rather than from the transfer. */
      let contentFailed = false;
      let bytes = 0;
      const sizeMismatch = (n: number) => new InvalidInputError(`blob ${d.digest} has ${n} bytes, expected ${d.size}`);
      try {
        blob = await store.beginBlob({ digest: d.digest, size: d.size });
        if (unpacking) {
          const layer = unpacking.layer;
          feed = layerFeed(`layer ${unpacking.what}`, (tar) => layer.write(tar));
        }
        const writing = blob;
        /** One body piece: into the ingest file, then (inflated) into the unpacker, before the next is read. */
        const consume = (piece: Buffer): void | Promise<void> => {
          writing.write(piece);
          if (writing.received > d.size) throw sizeMismatch(writing.received);
          onBytes(writing.received);
          // The socket waits while the disk catches up with the direct writes (fs/direct-write.ts).
          if (!feed) return directWritesBehind();
          try {
            const pending = feed.write(piece);
            if (pending) {
              return pending.catch((e: unknown) => {
                contentFailed = true;
                throw e;
              });
            }
          } catch (e) {
            contentFailed = true;
            throw e;
          }
          return directWritesBehind();
        };
        const path = `/v2/${target.path}/blobs/${d.digest}`;
        // The lean GET first; anything but a 200 (a token to widen, a redirect to blob storage, an error) goes through request().
        const direct = await client.getInto(path, scopes, consume, (stop) => track({ destroy: stop }));
        if (direct.status !== 200) {
          const res = await client.request("GET", path, { scopes });
          body = res.body;
          if (res.status !== 200) throw await unexpected(res, `fetching blob ${d.digest} of ${shown}`);
          track({ destroy: (e) => res.body.destroy(e) });
          for await (const piece of res.body as AsyncIterable<Buffer>) await consume(piece);
        }
        // A body cut short is a transfer failure, whatever the unpacker would say of the tar's end.
        if (blob.received !== d.size) throw sizeMismatch(blob.received);
        if (feed) {
          try {
            await feed.end();
          } catch (e) {
            contentFailed = true;
            throw e;
          }
        }
        const written = blob;
        blob = undefined;
        bytes = written.received;
        // All bytes are in: the next download may start while this blob is synced, checked and renamed.
        received();
        await written.commit();
      } catch (e) {
        bytes = blob?.received ?? bytes;
        body?.destroy();
        feed?.close();
        await blob?.abort();
        await unpacking?.layer.abort();
        if (contentFailed) throw e;
        throw blobFailure(d, e, bytes);
      }
      if (unpacking) await unpacking.layer.commit();
      return true;
    };

    const blobFailure = (d: Descriptor, e: unknown, seen: number): Error => {
      if (e instanceof InvalidInputError && /does not match its digest/.test(e.message)) {
        return new InvalidInputError(`blob ${d.digest} of ${shown} from ${target.domain} is corrupt: ${e.message}`, { hint: "nothing was stored; the registry's copy is damaged or was tampered with", cause: e });
      }
      if (e instanceof InvalidInputError && /bytes, expected/.test(e.message) && seen > d.size) {
        return new InvalidInputError(`blob ${d.digest} of ${shown} from ${target.domain} is corrupt: the registry sent more than its ${d.size} bytes`, { hint: "nothing was stored; the registry's copy is damaged or the manifest is wrong", cause: e });
      }
      if (e instanceof InvalidInputError && /bytes, expected/.test(e.message)) {
        return new SystemError(`download of blob ${d.digest} of ${shown} was cut short after ${seen} of ${d.size} bytes`, { hint: "nothing half-written was kept; run the pull again", cause: e });
      }
      if (e instanceof StackError) return e;
      return new SystemError(`download of blob ${d.digest} of ${shown} from ${target.domain} failed after ${seen} of ${d.size} bytes: ${(e as Error).message}`, { hint: "nothing half-written was kept; run the pull again", cause: e });
    };

    /**
     * The config: small, so it is read into memory and checked there, and the
     * layers start at once; `stored` (the blob written, synced and renamed
     * into the store) is awaited before the image is named.
     */
    const fetchConfig = async (d: Descriptor): Promise<{ bytes: Buffer; stored: Promise<unknown> }> => {
      if (await store.hasBlob(d.digest)) return { bytes: await store.readBlob(d.digest), stored: Promise.resolve() };
      const pieces: Buffer[] = [];
      let received = 0;
      try {
        const res = await client.request("GET", `/v2/${target.path}/blobs/${d.digest}`, { scopes });
        if (res.status !== 200) throw await unexpected(res, `fetching blob ${d.digest} of ${shown}`);
        for await (const piece of res.body as AsyncIterable<Buffer>) {
          received += piece.length;
          if (received > d.size) {
            res.body.destroy();
            throw new InvalidInputError(`blob ${d.digest} has ${received} bytes, expected ${d.size}`);
          }
          pieces.push(piece);
        }
        if (received !== d.size) throw new InvalidInputError(`blob ${d.digest} has ${received} bytes, expected ${d.size}`);
        const bytes = Buffer.concat(pieces, received);
        const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
        if (digest !== d.digest) throw new InvalidInputError(`blob content does not match its digest: expected ${d.digest}, got ${digest}`);
        const stored = store.writeBlob(bytes, { digest: d.digest, size: d.size });
        stored.catch(() => undefined);
        return { bytes, stored };
      } catch (e) {
        throw blobFailure(d, e, received);
      }
    };

    const { bytes: configBytes, stored: configStored } = await fetchConfig(manifest.config);
    // The manifest's blob too is written (and synced) while the layers download; addImage then only names it.
    const manifestStored = store.writeBlob(chosen.bytes, { digest: chosen.digest, size: chosen.bytes.length });
    const bothStored = Promise.all([configStored, manifestStored]);
    bothStored.catch(() => undefined);
    try {
      const config = JSON.parse(configBytes.toString("utf8")) as OciImage;
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (diffIds.length !== manifest.layers.length) {
        throw new InvalidInputError(`${shown}: its config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { hint: "the image in the registry is corrupt" });
      }
      if (top.kind === "manifest" && (config.os !== wanted.os || config.architecture !== wanted.architecture)) {
        const message = `${shown} is for ${formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant })}, not ${formatPlatform(wanted)}`;
        if (options.platform) throw new InvalidInputError(message, { hint: "the registry has no image of that name for the requested platform" });
        options.warn?.(message);
      }

      // One task per distinct layer blob; the same blob twice in a manifest is fetched once.
      const layers = manifest.layers.map((d, i) => ({ d, diffId: diffIds[i]!, index: i }));
      const distinct = layers.filter((l, i) => layers.findIndex((o) => o.d.digest === l.d.digest) === i);
      for (const l of distinct) progress({ ref: options.ref, digest: l.d.digest, status: "waiting", current: 0, total: l.d.size });
      const inFlight = new Set<Transfer>();
      let downloaded = 0;
      // A download holds a slot until its last EARLY_START bytes are coming (the next one's request then
      // overlaps its end), or else until its last byte is in; the blob and the layer are committed without it.
      // At most twice the limit are transferring at once.
      const limit = options.concurrency ?? 3;
      const slots = new Slots(limit);
      let transferring = 0;
      await runAll(
        distinct,
        async ({ d, diffId, index }) => {
          if (!(await slots.acquire())) return; // another layer failed
          transferring++;
          let holding = true;
          let counted = true;
          const release = () => {
            if (holding) slots.release();
            holding = false;
          };
          const received = () => {
            if (counted) transferring--;
            counted = false;
            release();
          };
          try {
            let last = 0;
            const what = `${index + 1}/${layers.length} (${d.digest}) of ${shown}`;
            // Null when the layer is unpacked already (or not wanted).
            let unpack = false;
            const layerBegun = options.unpack !== false ? store.layers.begin(what, diffId) : Promise.resolve(null);
            layerBegun.then((l) => (unpack = l !== null)).catch(() => undefined);
            const mine: Transfer[] = [];
            const fetched = await fetchBlob(
              d,
              (n) => {
                if (holding && d.size - n <= EARLY_START && transferring < 2 * limit) release();
                const t = Date.now();
                if (t - last >= PROGRESS_EVERY_MS || n === d.size) {
                  last = t;
                  progress({ ref: options.ref, digest: d.digest, status: n === d.size ? (unpack ? "extracting" : "verifying") : "downloading", current: n, total: d.size });
                }
              },
              (t) => {
                inFlight.add(t);
                mine.push(t);
              },
              layerBegun,
              what,
              received,
            ).finally(() => mine.forEach((t) => inFlight.delete(t)));
            unpack = (await layerBegun) !== null;
            if (fetched) downloaded++;
            else progress({ ref: options.ref, digest: d.digest, status: "exists", current: d.size, total: d.size });
            if (unpack && !fetched) {
              progress({ ref: options.ref, digest: d.digest, status: "extracting", current: d.size, total: d.size });
              await unpackStoredLayer(store.layers, store.blobPath(d.digest), what, diffId);
            }
            progress({ ref: options.ref, digest: d.digest, status: "done", current: d.size, total: d.size });
          } finally {
            received();
          }
        },
        () => {
          slots.close();
          for (const r of inFlight) r.destroy(new SystemError("stopped: another layer failed"));
        },
      );
      await bothStored;
      const record = await store.addImage(chosen.bytes, [name]);
      recordPull(options.stateDir, name, (options.now ?? (() => new Date()))());
      return {
        ref: name,
        id: record.id,
        digest: top.digest,
        manifestDigest: chosen.digest,
        platform: formatPlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }),
        downloaded,
        reused: distinct.length - downloaded,
      };
    } finally {
      // Nothing keeps writing after the pull returns, whichever way it ends.
      await Promise.allSettled([configStored, manifestStored]);
    }
  } finally {
    client.close();
  }
}
