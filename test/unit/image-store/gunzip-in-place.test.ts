// Inflating into one reused buffer: the output is handed over in full 1 MiB
// views (the last one shorter), the same buffer every time, and a buffer
// goes back to a pool after end() or close() for the next inflate.
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { GunzipInPlace, gunzipInPlaceAvailable } from "../../../src/image/tar/gunzip-in-place.js";

const data = Buffer.concat([randomBytes(1_500_000), Buffer.alloc(3_000_000, "abc")]);
const gz = gzipSync(data);

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
    { name: "a bad checksum", input: () => { const b = Buffer.from(gz); b[b.length - 6] ^= 1; return b; }, error: /cannot decompress layer 1\/1: gzip: incorrect data check/ },
    { name: "not gzip", input: () => Buffer.from("plain text, not gzip at all"), error: /cannot decompress layer 1\/1: gzip: incorrect header check/ },
  ])("refuses $name", ({ input, error }) => {
    expect(() => inflate(input(), 4096)).toThrow(error);
  });

  it("cannot be used after its end", () => {
    const g = new GunzipInPlace("x", () => undefined);
    g.write(gz);
    g.end();
    expect(() => g.write(gz)).toThrow(/used after its end/);
  });
});
