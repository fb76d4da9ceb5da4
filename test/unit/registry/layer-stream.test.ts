// A download's bytes to its tar, whatever the compression and however the
// bytes arrive: gzip inflated in place, plain passed through, zstd through the
// zstd binary; the compression told from first pieces as small as one byte.
// Every piece is scribbled over once write() returns, as the reused socket
// buffer is, so a feed that kept a view would hand over garbage.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { layerFeed } from "../../../src/image/registry/layer-stream.js";

const tar = Buffer.concat([randomBytes(700_000), Buffer.alloc(2_500_000, "compressible text ")]);
const encodings = {
  gzip: gzipSync(tar),
  none: tar,
  zstd: execFileSync("zstd", ["-q", "-c"], { input: tar, maxBuffer: 1 << 26 }),
};

/** Feeds `blob` in pieces of the sizes given (the last size repeats) and returns the tar the feed handed over. */
async function feed(blob: Buffer, sizes: number[], what = "layer 1/1"): Promise<Buffer> {
  const out: Buffer[] = [];
  const f = layerFeed(what, (bytes) => out.push(Buffer.from(bytes)));
  let at = 0;
  for (let k = 0; at < blob.length; k++) {
    const piece = Buffer.from(blob.subarray(at, at + sizes[Math.min(k, sizes.length - 1)]!));
    at += piece.length;
    const pending = f.write(piece);
    piece.fill(0x33);
    if (pending) await pending;
  }
  await f.end();
  return Buffer.concat(out);
}

describe("layerFeed", () => {
  it.each(Object.keys(encodings) as Array<keyof typeof encodings>)("hands over the tar of a %s layer, from first pieces of 1 to 7 bytes and any later size", async (kind) => {
    const blob = encodings[kind];
    for (const sizes of [[blob.length], [1, 1, 1, 1, 1, 1, 65_536], [2, 3, 4, 100_000], [5, 7, 1_048_576], [7, 333]]) {
      expect((await feed(blob, sizes)).equals(tar), `${kind} ${sizes.join(",")}`).toBe(true);
    }
  });

  it("reads a multi-member gzip and ignores zeros after the last member, as gunzip does", async () => {
    const two = Buffer.concat([gzipSync(tar.subarray(0, 1000)), gzipSync(tar.subarray(1000)), Buffer.alloc(512)]);
    expect((await feed(two, [4096])).equals(tar)).toBe(true);
  });

  it("hands over an empty blob as an empty tar, and an empty gzip member as nothing", async () => {
    expect((await feed(Buffer.alloc(0), [1])).length).toBe(0);
    expect((await feed(gzipSync(Buffer.alloc(0)), [3])).length).toBe(0);
  });

  it.each([
    { name: "a truncated gzip", blob: () => encodings.gzip.subarray(0, 50_000), error: /cannot decompress layer 3\/4: gzip: unexpected end of file/ },
    { name: "a corrupt gzip", blob: () => { const b = Buffer.from(encodings.gzip); b[10] = 0x06; return b; }, error: /cannot decompress layer 3\/4: gzip: invalid block type/ },
    { name: "garbage after the gzip", blob: () => Buffer.concat([encodings.gzip, Buffer.from("garbage")]), error: /cannot decompress layer 3\/4: gzip: incorrect header check/ },
    { name: "a truncated zstd", blob: () => encodings.zstd.subarray(0, 20_000), error: /cannot decompress layer 3\/4: zstd/ },
    { name: "an xz layer", blob: () => Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]), error: /layer 3\/4 is xz-compressed/ },
  ])("refuses $name", async ({ blob, error }) => {
    await expect(feed(blob(), [1000, 8192], "layer 3/4")).rejects.toThrow(error);
  });

  it("leaves a changed byte inside gzip's data to the caller's diff_id check (no CRC-32 is computed): the tar handed over differs", async () => {
    const b = Buffer.from(encodings.gzip);
    b[100] ^= 0xff; // inside the first (stored) block of random bytes
    const out = await feed(b, [1000, 8192]);
    expect(out.length).toBe(tar.length);
    expect(out.equals(tar)).toBe(false);
  });

  it("passes on what the tar consumer throws (a refused tar) from the write that reached it", async () => {
    for (const blob of [encodings.gzip, encodings.none]) {
      const f = layerFeed("layer 1/1", () => {
        throw new Error("refusing archive entry");
      });
      // gzip output is handed over a full 1 MiB buffer at a time: this write inflates more than that.
      expect(() => f.write(blob)).toThrow("refusing archive entry");
      f.close();
    }
  });
});
