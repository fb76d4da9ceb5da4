// Fetching and checking manifests: what the registry sends is hashed and, when
// the reference (or the index entry) names a digest, must match it byte for
// byte; the kind of document is told by its media type, or by its shape when
// a registry omits it. Docker schema 1 is refused.
import { createHash } from "node:crypto";
import { InvalidInputError, UnsupportedError } from "../../errors.js";
import { MediaTypes, type Descriptor, type ImageManifest } from "../store/index.js";
import { readLimited, unexpected, type RegistryClient } from "./client.js";

export const MANIFEST_ACCEPT = [MediaTypes.ociIndex, MediaTypes.dockerManifestList, MediaTypes.ociManifest, MediaTypes.dockerManifest].join(", ");
const MAX_MANIFEST = 4 * 1024 * 1024;

export interface ImageIndexDocument {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export type FetchedManifest =
  | { kind: "index"; bytes: Buffer; digest: string; mediaType: string; index: ImageIndexDocument }
  | { kind: "manifest"; bytes: Buffer; digest: string; mediaType: string; manifest: ImageManifest };

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Classifies manifest bytes; `what` names them in errors. */
export function classifyManifest(bytes: Buffer, contentType: string | undefined, what: string): FetchedManifest {
  let doc: { schemaVersion?: number; mediaType?: string; manifests?: unknown; config?: unknown; layers?: unknown };
  try {
    doc = JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw new InvalidInputError(`${what} is not JSON`, { hint: "the registry sent something that is not a manifest", cause: e });
  }
  const digest = sha256Digest(bytes);
  const type = doc.mediaType ?? (contentType?.split(";")[0]?.trim() || undefined);
  if (doc.schemaVersion === 1 || type?.startsWith("application/vnd.docker.distribution.manifest.v1")) {
    throw new UnsupportedError(`${what} is a Docker schema 1 manifest, which stack does not read`, { hint: "push the image again with a current client (it writes schema 2 or OCI)" });
  }
  const isIndex = type === MediaTypes.ociIndex || type === MediaTypes.dockerManifestList || (type === undefined && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw new InvalidInputError(`${what} is an index without a manifests list`);
    return { kind: "index", bytes, digest, mediaType: type ?? MediaTypes.ociIndex, index: doc as ImageIndexDocument };
  }
  const isManifest = type === MediaTypes.ociManifest || type === MediaTypes.dockerManifest || ((type === undefined || type === "application/json") && doc.config !== undefined);
  if (!isManifest) throw new UnsupportedError(`${what} has media type ${JSON.stringify(type)}, which is not an image manifest or index`);
  return { kind: "manifest", bytes, digest, mediaType: doc.mediaType ?? MediaTypes.ociManifest, manifest: doc as ImageManifest };
}

/** GET a manifest by tag or digest; a digest reference (or `expectedDigest`) must match the bytes. */
export async function fetchManifest(client: RegistryClient, repo: string, reference: string, scopes: string[], expectedDigest?: string): Promise<FetchedManifest> {
  const what = `manifest ${client.domain}/${repo}${reference.includes(":") ? "@" : ":"}${reference}`;
  const res = await client.request("GET", `/v2/${repo}/manifests/${reference}`, { scopes, headers: { accept: MANIFEST_ACCEPT } });
  if (res.status !== 200) throw await unexpected(res, `fetching ${what}`);
  const bytes = await readLimited(res.body, MAX_MANIFEST);
  const fetched = classifyManifest(bytes, res.headers["content-type"], what);
  const wanted = expectedDigest ?? (reference.startsWith("sha256:") ? reference : undefined);
  const announced = res.headers["docker-content-digest"];
  if (wanted !== undefined && fetched.digest !== wanted) {
    throw new InvalidInputError(`${what} does not match its digest: got ${fetched.digest}`, { hint: "the registry's copy is damaged or tampered with; nothing was stored" });
  }
  if (wanted === undefined && typeof announced === "string" && announced.startsWith("sha256:") && announced !== fetched.digest) {
    throw new InvalidInputError(`${what}: the registry announced digest ${announced} but sent content with digest ${fetched.digest}`, { hint: "the registry or a proxy altered the manifest; nothing was stored" });
  }
  return fetched;
}
