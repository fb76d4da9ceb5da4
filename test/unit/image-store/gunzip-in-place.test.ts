// Inflating into one reused buffer: the output is handed over in full 1 MiB
// views (the last one shorter), the same buffer every time, and a buffer
// goes back to a pool after end() or close() for the next inflate. The gzip
// framing is read by the class itself (around a raw inflate): every header
// field, split anywhere, several members, zero padding, and what it refuses.
import { randomBytes } from "node:crypto";
import { crc32, deflateRawSync, gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { GunzipInPlace, gunzipInPlaceAvailable } from "../../../src/image/tar/gunzip-in-place.js";

const data = Buffer.concat([randomBytes(1_500_000), Buffer.alloc(3_000_000, "abc")]);
const gz = gzipSync(data);

/** One gzip member of `content`, with the optional header fields asked for (RFC 1952). */
function member(content: Buffer, o: { extra?: Buffer; name?: string; comment?: string; headerCrc?: boolean }): Buffer {
  const flags = (o.headerCrc ? 0x02 : 0) | (o.extra ? 0x04 : 0) | (o.name !== undefined ? 0x08 : 0) | (o.comment !== undefined ? 0x10 : 0);
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3])];
  if (o.extra) {
    const length = Buffer.alloc(2);
    length.writeUInt16LE(o.extra.length);
    parts.push(length, o.extra);
  }
  if (o.name !== undefined) parts.push(Buffer.from(`${o.name}\u0000`, "latin1"));
  if (o.comment !== undefined) parts.push(Buffer.from(`${o.comment}\u0000`, "latin1"));
  if (o.headerCrc) {
    const crc = Buffer.alloc(2);
    crc.writeUInt16LE(crc32(Buffer.concat(parts)) & 0xffff);
    parts.push(crc);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(content), 0);
  trailer.writeUInt32LE(content.length, 4);
  return Buffer.concat([...parts, deflateRawSync(content), trailer]);
}

function inflate(input: Buffer, piece: number, outputSize?: number): { out: Buffer; views: Buffer[]; sizes: number[] } {
  const parts: Buffer[] = [];
  const views: Buffer[] = [];
  const g = new GunzipInPlace("layer 1/1", (b) => (parts.push(Buffer.from(b)), views.push(b)), outputSize);
  for (let at = 0; at < input.length; at += piece) g.write(input.subarray(at, at + piece));
  g.end();
  return { out: Buffer.concat(parts), views, sizes: parts.map((p) => p.length) };
}

describe("GunzipInPlace", () => {
  it("is available on this Node", () => {
    expect(gunzipInPlaceAvailable()).toBe(true);
  });

  it.each([1, 4096, 65_536, 1 << 20, gz.length])("inflates input given in pieces of %i bytes into full 1 MiB views of one buffer", (piece) => {
    const { out, views, sizes } = inflate(gz, piece);
    expect(out.equals(data)).toBe(true);
    expect(sizes.slice(0, -1).every((n) => n === 1 << 20)).toBe(true);
    expect(new Set(views.map((v) => v.buffer)).size).toBe(1);
  });

  it("takes a smaller output buffer", () => {
    const { out, sizes } = inflate(gz, 10_000, 4096);
    expect(out.equals(data)).toBe(true);
    expect(Math.max(...sizes)).toBe(4096);
  });

  it("reuses a finished inflate's buffer, and a later inflate is still right", () => {
    const first = inflate(gz, 65_536);
    const second = inflate(gz, 100_000);
    expect(second.out.equals(data)).toBe(true);
    expect(second.views[0]!.buffer).toBe(first.views[0]!.buffer);
  });

  it.each([
    { name: "a truncated stream", input: () => gz.subarray(0, gz.length - 10), error: /cannot decompress layer 1\/1: gzip: unexpected end of file/ },
    { name: "a wrong length in the trailer", input: () => { const b = Buffer.from(gz); b[b.length - 3] ^= 1; return b; }, error: /cannot decompress layer 1\/1: gzip: incorrect length check/ },
    { name: "a stream cut inside its trailer", input: () => gz.subarray(0, gz.length - 3), error: /cannot decompress layer 1\/1: gzip: unexpected end of file/ },
    { name: "a stream cut right after its deflate data", input: () => gz.subarray(0, gz.length - 8), error: /cannot decompress layer 1\/1: gzip: unexpected end of file/ },
    { name: "a stream cut inside its header", input: () => member(Buffer.from("x"), { name: "file.tar" }).subarray(0, 14), error: /gzip: unexpected end of file/ },
    { name: "corrupt deflate data", input: () => { const b = Buffer.from(gz); b[10] = 0x06; return b; }, error: /cannot decompress layer 1\/1: gzip: invalid block type/ },
    { name: "not gzip", input: () => Buffer.from("plain text, not gzip at all"), error: /cannot decompress layer 1\/1: gzip: incorrect header check/ },
    { name: "a method other than deflate", input: () => { const b = Buffer.from(gz); b[2] = 7; return b; }, error: /gzip: unknown compression method/ },
    { name: "reserved header flags", input: () => { const b = Buffer.from(gz); b[3] |= 0x20; return b; }, error: /gzip: unknown header flags set/ },
    { name: "something after a member that is neither a member nor zeros", input: () => Buffer.concat([gz, Buffer.from("junk")]), error: /gzip: incorrect header check/ },
  ])("refuses $name", ({ input, error }) => {
    expect(() => inflate(input(), 4096)).toThrow(error);
  });

  it("leaves the CRC-32 to the caller's digest of the output (a flipped CRC byte still inflates to the same bytes)", () => {
    const b = Buffer.from(gz);
    b[b.length - 6] ^= 1;
    expect(() => gunzipSync(b)).toThrow(/incorrect data check/);
    expect(inflate(b, 65_536).out.equals(data)).toBe(true);
  });

  it("reads every optional header field, split at every byte, several members and zero padding, as gunzip does", () => {
    const a = randomBytes(3000);
    const b = Buffer.from("second member ".repeat(500));
    const input = Buffer.concat([
      member(a, { extra: Buffer.from("XYZ\u0000stack"), name: "layer.tar", comment: "made by the test", headerCrc: true }),
      member(b, { extra: Buffer.alloc(0) }),
      member(Buffer.alloc(0), {}),
      Buffer.alloc(1024),
    ]);
    // The input is valid gzip: Node's own gunzip reads it the same way.
    expect(gunzipSync(input).equals(Buffer.concat([a, b]))).toBe(true);
    for (const piece of [1, 2, 3, 7, 13, 4096]) {
      expect(inflate(input, piece, 1000).out.equals(Buffer.concat([a, b])), `pieces of ${piece}`).toBe(true);
    }
  });

  it("stops after an output when its pause hook asks, and goes on from the same input once the hook's promise settles", async () => {
    // Well-compressed input: one 64 KiB piece inflates to several MiB, the case the hook is for.
    const text = Buffer.from("a line of text that compresses well\n".repeat(400_000));
    const input = Buffer.concat([gzipSync(text), gz]);
    const parts: Buffer[] = [];
    let outputs = 0;
    let asked = 0;
    let paused = 0;
    const g = new GunzipInPlace("layer 1/1", (b) => (parts.push(Buffer.from(b)), outputs++), undefined, () => {
      asked++;
      // Every other output: wait a turn of the event loop.
      if (asked % 2 === 1) return undefined;
      paused++;
      const at = outputs;
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          // Nothing was handed over while paused.
          expect(outputs).toBe(at);
          resolve();
        }),
      );
    });
    let promises = 0;
    for (let at = 0; at < input.length; at += 65_536) {
      const pending = g.write(input.subarray(at, at + 65_536));
      if (pending) {
        promises++;
        await pending;
      }
    }
    g.end();
    expect(Buffer.concat(parts).equals(Buffer.concat([text, data]))).toBe(true);
    expect(paused).toBeGreaterThan(5);
    expect(promises).toBeGreaterThan(0);
    expect(promises).toBeLessThanOrEqual(paused);
  });

  it("without a pause asked, write() returns nothing", () => {
    const g = new GunzipInPlace("x", () => undefined, undefined, () => undefined);
    expect(g.write(gz)).toBeUndefined();
    g.end();
  });

  it("fails the paused write when it is closed meanwhile (another layer failed)", async () => {
    let release: () => void = () => undefined;
    const g = new GunzipInPlace("x", () => undefined, undefined, () => new Promise<void>((r) => (release = r)));
    const pending = g.write(gz);
    expect(pending).toBeInstanceOf(Promise);
    g.close();
    release();
    await expect(pending).rejects.toThrow(/closed while paused/);
  });

  it("cannot be used after its end", () => {
    const g = new GunzipInPlace("x", () => undefined);
    g.write(gz);
    g.end();
    expect(() => g.write(gz)).toThrow(/used after its end/);
  });
});
