// Inflating on the threadpool into pooled buffers: the output is handed over
// as each turn of the inflate produces it, views in order filling one buffer
// before the next; a buffer a consumer holds is left alone until released,
// an inflate waits when its pool's limit is out, and buffers go back to the
// pool after end(), close() or a failure. The gzip
// framing is read by the class itself (around a raw inflate): every header
// field, split anywhere, several members, zero padding, and what it refuses.
import { randomBytes } from "node:crypto";
import { crc32, deflateRawSync, gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { GunzipInPlace, gunzipInPlaceAvailable } from "../../../src/image/tar/gunzip-in-place.js";
import { BufferPool } from "../../../src/image/tar/held-buffer.js";

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

interface Inflated {
  out: Buffer;
  views: Buffer[];
}

/**
 * Inflates `input` given in pieces of `piece` bytes, each scribbled over once
 * its write settled (as a reused socket buffer is); the output is copied
 * during each call, as a consumer that does not hold the buffer must.
 */
async function inflate(input: Buffer, piece: number, pool?: BufferPool): Promise<Inflated> {
  const parts: Buffer[] = [];
  const views: Buffer[] = [];
  const g = new GunzipInPlace("layer 1/1", (b) => (parts.push(Buffer.from(b)), views.push(b)), pool);
  for (let at = 0; at < input.length; at += piece) {
    const bytes = Buffer.from(input.subarray(at, at + piece));
    const pending = g.write(bytes);
    if (pending) await pending;
    bytes.fill(0x55);
  }
  await g.end();
  return { out: Buffer.concat(parts), views };
}

/** Each view starts where the one before ended in the same buffer, or at the start of another once that one was full. */
function contiguous(views: Buffer[], size: number): boolean {
  for (let i = 1; i < views.length; i++) {
    const a = views[i - 1]!;
    const b = views[i]!;
    const aEnd = a.byteOffset + a.length;
    const sameBuffer = a.buffer === b.buffer && b.byteOffset === aEnd;
    const next = b.byteOffset % size === 0 && aEnd % size === 0;
    if (!sameBuffer && !next) return false;
  }
  return true;
}

describe("GunzipInPlace", () => {
  it("is available on this Node", () => {
    expect(gunzipInPlaceAvailable()).toBe(true);
  });

  it.each([997, 4096, 65_536, 1 << 20, gz.length])("inflates input given in pieces of %i bytes into views of pooled 256 KiB buffers, in order", async (piece) => {
    const { out, views } = await inflate(gz, piece);
    expect(out.equals(data)).toBe(true);
    expect(views.every((v) => v.buffer.byteLength === 256 * 1024)).toBe(true);
    expect(contiguous(views, 256 * 1024)).toBe(true);
  });

  it("fills a buffer of the pool's size before taking the next, across pieces and members", async () => {
    const pool = new BufferPool(4096, 2);
    const { out, views } = await inflate(gz, 10_000, pool);
    expect(out.equals(data)).toBe(true);
    expect(Math.max(...views.map((v) => v.length))).toBeLessThanOrEqual(4096);
    expect(new Set(views.map((v) => v.buffer)).size).toBeLessThanOrEqual(2);
    expect(pool.outstanding).toBe(0);
  });

  it("reuses a finished inflate's buffer, and a later inflate is still right", async () => {
    const pool = new BufferPool(1 << 20, 4);
    const first = await inflate(gz, 65_536, pool);
    const second = await inflate(gz, 100_000, pool);
    expect(second.out.equals(data)).toBe(true);
    expect(first.views.map((v) => v.buffer)).toContain(second.views[0]!.buffer);
    expect(pool.outstanding).toBe(0);
  });

  it("leaves a held buffer alone until it is released, and waits for one when the pool's limit is out", async () => {
    const pool = new BufferPool(64 * 1024, 3);
    const held: Array<{ view: Buffer; copy: Buffer; release: () => void }> = [];
    const g = new GunzipInPlace(
      "layer 1/1",
      (view, holder) => {
        holder.hold();
        held.push({ view, copy: Buffer.from(view), release: () => holder.release() });
      },
      pool,
    );
    let settled = false;
    const writing = Promise.resolve(g.write(gz)).then(() => (settled = true));
    // Three 64 KiB buffers fill and stay held: the inflate cannot go on.
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    expect(pool.outstanding).toBe(3);
    expect(held.every((h) => h.view.equals(h.copy))).toBe(true);
    // Releasing as they come lets it finish; nothing held was overwritten meanwhile.
    let released = 0;
    const drain = setInterval(() => {
      for (const h of held.slice(released)) {
        expect(h.view.equals(h.copy)).toBe(true);
        h.release();
      }
      released = held.length;
    }, 5);
    await writing;
    await g.end();
    clearInterval(drain);
    for (const h of held.slice(released)) h.release();
    expect(Buffer.concat(held.map((h) => h.copy)).equals(data)).toBe(true);
    expect(pool.outstanding).toBe(0);
  });

  it("refuses a write before the previous one settled, and any use after its end", async () => {
    const g = new GunzipInPlace("x", () => undefined);
    const pending = g.write(gz);
    expect(pending).toBeInstanceOf(Promise);
    expect(() => g.write(gz)).toThrow(/before the previous write settled/);
    await pending;
    await g.end();
    expect(() => g.write(gz)).toThrow(/used after its end/);
  });

  it("closed while inflating, rejects that write and gives its buffer back once the thread is done with it", async () => {
    const pool = new BufferPool(1 << 20, 2);
    const g = new GunzipInPlace("x", () => undefined, pool);
    const pending = g.write(gz);
    g.close();
    await expect(pending).rejects.toThrow(/closed/);
    expect(pool.outstanding).toBe(0);
  });

  it("rejects with what the consumer throws, and gives its buffer back", async () => {
    const pool = new BufferPool(1 << 20, 2);
    const g = new GunzipInPlace(
      "x",
      () => {
        throw new Error("refusing archive entry");
      },
      pool,
    );
    await expect(g.write(gz)).rejects.toThrow("refusing archive entry");
    expect(pool.outstanding).toBe(0);
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
  ])("refuses $name", async ({ input, error }) => {
    await expect(inflate(input(), 4096)).rejects.toThrow(error);
  });

  it("leaves the CRC-32 to the caller's digest of the output (a flipped CRC byte still inflates to the same bytes)", async () => {
    const b = Buffer.from(gz);
    b[b.length - 6] ^= 1;
    expect(() => gunzipSync(b)).toThrow(/incorrect data check/);
    expect((await inflate(b, 65_536)).out.equals(data)).toBe(true);
  });

  it("reads every optional header field, split at every byte, several members and zero padding, as gunzip does", async () => {
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
      expect((await inflate(input, piece, new BufferPool(1000, 2))).out.equals(Buffer.concat([a, b])), `pieces of ${piece}`).toBe(true);
    }
  });

});
