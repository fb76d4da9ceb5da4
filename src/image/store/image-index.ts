// The store's names: `images/index.json`, an OCI image index whose entries
// are manifest descriptors annotated with the image's full normalised
// reference ("docker.io/library/busybox:latest"). One entry per name, so one
// manifest may appear under several names. Pure functions over the value;
// the store reads and writes it atomically under its lock.
import { MediaTypes, type Descriptor } from "./oci-types.js";

export const REF_ANNOTATION = "org.opencontainers.image.ref.name";
export const CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name";

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
}

export function refOf(d: Descriptor): string | undefined {
  return d.annotations?.[REF_ANNOTATION];
}

/** Points `ref` at `manifest`, replacing what it named before; entries stay sorted by name. */
export function setRef(index: ImageIndex, ref: string, manifest: Descriptor): ImageIndex {
  const entry: Descriptor = {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.size,
    annotations: { [CONTAINERD_NAME_ANNOTATION]: ref, [REF_ANNOTATION]: ref },
  };
  const manifests = [...index.manifests.filter((d) => refOf(d) !== ref), entry].sort((a, b) => (refOf(a)! < refOf(b)! ? -1 : 1));
  return { ...index, manifests };
}

export function removeRef(index: ImageIndex, ref: string): ImageIndex {
  return { ...index, manifests: index.manifests.filter((d) => refOf(d) !== ref) };
}

export function digestOfRef(index: ImageIndex, ref: string): string | undefined {
  return index.manifests.find((d) => refOf(d) === ref)?.digest;
}

export function refsOfDigest(index: ImageIndex, digest: string): string[] {
  return index.manifests.filter((d) => d.digest === digest).map((d) => refOf(d)!).sort();
}

/** Manifest digests in the index, each once, sorted. */
export function manifestDigests(index: ImageIndex): string[] {
  return [...new Set(index.manifests.map((d) => d.digest))].sort();
}
