// `pushImage`: a local image → a registry. Each blob (config, layers) is
// first asked for with HEAD and skipped when the repository has it; else it
// is mounted from another repository of the same registry that stack knows
// holds it (a local name of that registry naming an image with that blob);
// else uploaded — in one PUT when small, in PATCH chunks with Content-Range
// when larger than `chunkSize` — and the manifest is PUT last, with its
// exact stored bytes so its digest does not change.
import { createReadStream } from "node:fs";
import { InvalidInputError, SystemError } from "../../errors.js";
import { familiarReference, formatReference, parseReference, type ImageReference } from "../reference.js";
import { ImageStore, MediaTypes, type Descriptor } from "../store/index.js";
import { RegistryClient, unexpected, type RegistryAccess } from "./client.js";
import { sha256Digest } from "./manifest.js";
import { runPool } from "./pool.js";

export type PushStatus = "waiting" | "exists" | "mounted" | "uploading" | "done";

export interface PushProgress {
  ref: string;
  digest: string;
  status: PushStatus;
  current: number;
  total: number;
}

export interface PushOptions extends RegistryAccess {
  stateDir: string;
  store?: ImageStore;
  /** The local image: a name or ID. */
  ref: string;
  /** Where to push (default: `ref`, which must then be a name). */
  target?: string;
  onProgress?: (event: PushProgress) => void;
  /** Blobs larger than this go up in PATCH chunks of this size (default 16 MiB); smaller ones in one PUT. */
  chunkSize?: number;
  concurrency?: number;
}

export interface PushResult {
  ref: string;
  digest: string;
  size: number;
  uploaded: number;
  mounted: number;
  existing: number;
}

const DEFAULT_CHUNK = 16 * 1024 * 1024;

export async function pushImage(options: PushOptions): Promise<PushResult> {
  const store = options.store ?? new ImageStore(options.stateDir);
  const image = await store.get(options.ref);
  const targetText = options.target ?? options.ref;
  let target: ImageReference;
  try {
    target = parseReference(targetText);
  } catch (e) {
    throw new InvalidInputError(`cannot push ${JSON.stringify(targetText)}: it is not an image name`, { hint: "give a name (REGISTRY/REPO:TAG), or tag the image first with `stack image tag`", cause: e });
  }
  if (target.digest !== undefined && target.digest !== image.digest) {
    throw new InvalidInputError(`cannot push ${familiarReference(target)}: the local image has digest ${image.digest}`, { hint: "push by tag, or name the local image's own digest" });
  }
  const shown = familiarReference(target);
  const repo = target.path;
  const manifestBytes = await store.readBlob(image.digest);
  const mountSources = (await store.list())
    .flatMap((r) => r.names.map((n) => ({ n: parseReference(n), r })))
    .filter(({ n }) => n.domain === target.domain && n.path !== repo);
  const scopes = [`repository:${repo}:pull,push`];
  const client = new RegistryClient(target.domain, options);
  const progress = options.onProgress ?? (() => undefined);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  const counts = { uploaded: 0, mounted: 0, existing: 0 };

  const blobUrl = (d: string) => `/v2/${repo}/blobs/${d}`;
  const exists = async (d: string): Promise<boolean> => {
    const res = await client.request("HEAD", blobUrl(d), { scopes });
    res.body.resume();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await unexpected(res, `checking blob ${d} in ${shown}`);
  };
  const locationOf = async (res: Awaited<ReturnType<RegistryClient["request"]>>, what: string): Promise<URL> => {
    const loc = res.headers.location;
    res.body.resume();
    if (!loc) throw new SystemError(`${what}: the registry gave no upload location`);
    return new URL(loc, await client.baseUrl());
  };

  const upload = async (d: Descriptor): Promise<void> => {
    const path = store.blobPath(d.digest);
    const report = (status: PushStatus, current: number) => progress({ ref: options.ref, digest: d.digest, status, current, total: d.size });
    if (await exists(d.digest)) {
      counts.existing++;
      report("exists", d.size);
      return;
    }
    let location: URL | undefined;
    const source = mountSources.find(({ r }) => r.digest === d.digest || r.id === d.digest || r.manifest.layers.some((l) => l.digest === d.digest));
    if (source) {
      const from = source.n.path;
      const mountScopes = [...scopes, `repository:${from}:pull`];
      const res = await client.request("POST", `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(from)}`, { scopes: mountScopes });
      if (res.status === 201) {
        res.body.resume();
        counts.mounted++;
        report("mounted", d.size);
        return;
      }
      if (res.status !== 202) throw await unexpected(res, `mounting blob ${d.digest} into ${shown}`);
      location = await locationOf(res, `mounting blob ${d.digest}`);
    }
    if (!location) {
      const res = await client.request("POST", `/v2/${repo}/blobs/uploads/`, { scopes });
      if (res.status !== 202) throw await unexpected(res, `starting the upload of blob ${d.digest} to ${shown}`);
      location = await locationOf(res, `starting the upload of blob ${d.digest}`);
    }
    report("uploading", 0);
    const octets = { "content-type": "application/octet-stream" };
    if (d.size > chunkSize) {
      for (let start = 0; start < d.size; start += chunkSize) {
        const end = Math.min(d.size, start + chunkSize) - 1;
        const at = location!;
        const res = await client.request("PATCH", "", {
          url: at,
          scopes,
          headers: { ...octets, "content-length": String(end - start + 1), "content-range": `${start}-${end}` },
          body: () => createReadStream(path, { start, end }),
        });
        if (res.status !== 202) throw await unexpected(res, `uploading bytes ${start}-${end} of blob ${d.digest} to ${shown}`);
        location = await locationOf(res, `uploading blob ${d.digest}`);
        report("uploading", end + 1);
      }
      const done = new URL(location!);
      done.searchParams.set("digest", d.digest);
      const res = await client.request("PUT", "", { url: done, scopes, headers: { ...octets, "content-length": "0" }, body: () => Buffer.alloc(0) });
      if (res.status !== 201) throw await unexpected(res, `completing the upload of blob ${d.digest} to ${shown}`);
      res.body.resume();
    } else {
      const done = new URL(location);
      done.searchParams.set("digest", d.digest);
      const res = await client.request("PUT", "", { url: done, scopes, headers: { ...octets, "content-length": String(d.size) }, body: () => createReadStream(path) });
      if (res.status !== 201) throw await unexpected(res, `uploading blob ${d.digest} to ${shown}`);
      res.body.resume();
    }
    counts.uploaded++;
    report("done", d.size);
  };

  try {
    const blobs = [image.manifest.config, ...image.manifest.layers].filter((d, i, all) => all.findIndex((o) => o.digest === d.digest) === i);
    for (const d of blobs) progress({ ref: options.ref, digest: d.digest, status: "waiting", current: 0, total: d.size });
    await runPool(blobs, options.concurrency ?? 3, upload);
    const reference = target.tag ?? image.digest;
    const res = await client.request("PUT", `/v2/${repo}/manifests/${reference}`, {
      scopes,
      headers: { "content-type": image.manifest.mediaType ?? MediaTypes.ociManifest },
      body: () => manifestBytes,
    });
    if (res.status !== 201) throw await unexpected(res, `putting the manifest of ${shown}`);
    res.body.resume();
    const digest = sha256Digest(manifestBytes);
    const announced = res.headers["docker-content-digest"];
    if (typeof announced === "string" && announced !== digest) {
      throw new SystemError(`the registry stored the manifest of ${shown} as ${announced}, expected ${digest}`, { hint: "the registry rewrote the manifest; other clients may see another digest" });
    }
    return { ref: formatReference({ ...target, ...(target.tag ? {} : { digest }) }), digest, size: manifestBytes.length, ...counts };
  } finally {
    client.close();
  }
}
