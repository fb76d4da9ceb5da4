// Test images with several layers in chosen compressions, written straight
// into an image store (blobs, config, manifest) the way a build would.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { ImageStore, MediaTypes, type ImageManifest, type OciImage } from "../../../src/image/store/index.js";

export type LayerCompression = "gzip" | "zstd" | "none";

const LAYER_TYPE: Record<LayerCompression, string> = { gzip: MediaTypes.ociLayerGzip, zstd: MediaTypes.ociLayerZstd, none: MediaTypes.ociLayer };

export function compress(tar: Buffer, how: LayerCompression): Buffer {
  if (how === "gzip") return gzipSync(tar);
  if (how === "zstd") return execFileSync("zstd", ["-q", "-c"], { input: tar, maxBuffer: 1 << 30 });
  return tar;
}

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

export async function addLayeredImage(
  store: ImageStore,
  name: string,
  layers: Array<{ tar: Buffer; compression: LayerCompression }>,
  options: { architecture?: string; variant?: string; cmd?: string[]; docker?: boolean; diffIds?: string[] } = {},
): Promise<{ digest: string; id: string; manifest: Buffer }> {
  const descriptors = [];
  for (const l of layers) {
    const blob = compress(l.tar, l.compression);
    const info = await store.writeBlob(blob);
    descriptors.push({ mediaType: options.docker && l.compression === "gzip" ? MediaTypes.dockerLayerGzip : LAYER_TYPE[l.compression], digest: info.digest, size: info.size });
  }
  const image: OciImage = {
    created: "2024-01-02T03:04:05Z",
    architecture: options.architecture ?? "amd64",
    ...(options.variant ? { variant: options.variant } : {}),
    os: "linux",
    config: { Cmd: options.cmd ?? ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
    rootfs: { type: "layers", diff_ids: options.diffIds ?? layers.map((l) => sha(l.tar)) },
    history: layers.map(() => ({ created: "2024-01-02T03:04:05Z", created_by: "test" })),
  };
  const config = await store.writeBlob(Buffer.from(JSON.stringify(image)));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: options.docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest,
    config: { mediaType: options.docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig, digest: config.digest, size: config.size },
    layers: descriptors,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const record = await store.addImage(bytes, [name]);
  return { digest: record.digest, id: record.id, manifest: bytes };
}
