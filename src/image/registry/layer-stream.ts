// A stored layer blob as an uncompressed tar stream, read in 256 KiB pieces.
// The size matters: the extractor writes each piece it is handed with one
// awaited write, so zlib's default 16 KiB output made unpacking a 200 MB
// image 3.6x slower (measured: 5.1 s against 1.4 s). zstd goes through the
// store's decompressor (the zstd binary).
import { createReadStream } from "node:fs";
import { PassThrough, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { InvalidInputError } from "../../errors.js";
import { detectFileCompression, openDecompressed } from "../tar/decompress.js";

const PIECE = 256 * 1024;

export async function openLayerTar(path: string, what: string): Promise<Readable> {
  const compression = await detectFileCompression(path, what);
  if (compression === "zstd") return openDecompressed(path, compression, what);
  const raw = createReadStream(path, { highWaterMark: PIECE });
  if (compression === "none") return raw;
  return gunzipStream(raw, what);
}

/** gzip-compressed bytes → the uncompressed stream, in 256 KiB pieces; errors name `what`. */
export function gunzipStream(raw: Readable, what: string): Readable {
  const gunzip = createGunzip({ chunkSize: PIECE });
  const out = new PassThrough({ highWaterMark: PIECE });
  raw.on("error", (e) => out.destroy(e));
  gunzip.on("error", (e) => out.destroy(new InvalidInputError(`cannot decompress ${what}: gzip: ${e.message}`, { hint: "the blob is truncated or corrupt; pull or load it again" })));
  out.on("close", () => raw.destroy());
  raw.pipe(gunzip).pipe(out);
  return out;
}
