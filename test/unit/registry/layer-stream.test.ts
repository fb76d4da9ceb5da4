// The layer stream's pure parts: peeking at a stream's first bytes leaves them
// to be read again, and a download's tar is found whatever its compression.
import { PassThrough, Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { layerTarOf, peek } from "../../../src/image/registry/layer-stream.js";

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("layer stream", () => {
  it("peeks at the first bytes across small pieces and leaves them in the stream", async () => {
    const cases = [
      { name: "one piece", pieces: ["abcdefgh"], expected: "abcdef" },
      { name: "pieces smaller than the peek", pieces: ["ab", "c", "defgh"], expected: "abcdef" },
      { name: "a stream shorter than the peek", pieces: ["abc"], expected: "abc" },
      { name: "an empty stream", pieces: [], expected: "" },
    ];
    for (const c of cases) {
      const s = Readable.from(c.pieces.map((p) => Buffer.from(p)), { objectMode: false });
      expect((await peek(s, 6)).toString(), c.name).toBe(c.expected);
      expect((await readAll(s)).toString(), c.name).toBe(c.pieces.join(""));
    }
  });

  it("peeks at bytes that arrive later, and fails with the stream's error or on an early close", async () => {
    const late = new PassThrough();
    const seen = peek(late, 4);
    late.write("ab");
    setTimeout(() => late.end("cdef"), 10);
    expect((await seen).toString()).toBe("abcd");
    expect((await readAll(late)).toString()).toBe("abcdef");

    const failing = new PassThrough();
    const failed = peek(failing, 4);
    failing.destroy(new Error("connection reset"));
    await expect(failed).rejects.toThrow("connection reset");

    const closed = new PassThrough();
    const cut = peek(closed, 4);
    closed.destroy();
    await expect(cut).rejects.toThrow(/closed before its end/);
  });

  it("finds the tar in gzip and plain downloads, and refuses xz", async () => {
    const tar = Buffer.alloc(2048, 7);
    expect((await readAll(await layerTarOf(Readable.from([gzipSync(tar)], { objectMode: false }), "layer 1"))).equals(tar)).toBe(true);
    expect((await readAll(await layerTarOf(Readable.from([tar], { objectMode: false }), "layer 1"))).equals(tar)).toBe(true);
    const xz = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]);
    await expect(layerTarOf(Readable.from([xz], { objectMode: false }), "layer 2")).rejects.toThrow(/layer 2 is xz-compressed/);
    await expect(readAll(await layerTarOf(Readable.from([gzipSync(tar).subarray(0, 30)], { objectMode: false }), "layer 3"))).rejects.toThrow(/cannot decompress layer 3: gzip/);
  });
});
