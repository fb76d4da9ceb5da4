import { describe, expect, it } from "vitest";
import { createFrameDecoder, encodeFrame, PROTOCOL_VERSION } from "../../../src/supervisor/protocol.js";

function decodeAll(chunks: string[], maxLine?: number) {
  const frames: unknown[] = [];
  const bad: string[] = [];
  const push = createFrameDecoder<unknown>((f) => frames.push(f), (_l, why) => bad.push(why), maxLine);
  for (const c of chunks) push(c);
  return { frames, bad };
}

describe("protocol framing", () => {
  it("encodes one JSON object per line", () => {
    expect(encodeFrame({ v: PROTOCOL_VERSION, seq: 3, op: "status" })).toBe('{"v":1,"seq":3,"op":"status"}\n');
  });
  const cases = [
    { name: "one frame", chunks: ['{"a":1}\n'], frames: [{ a: 1 }], bad: 0 },
    { name: "split across chunks", chunks: ['{"a"', ":1}\n{", '"b":2}\n'], frames: [{ a: 1 }, { b: 2 }], bad: 0 },
    { name: "waits for the newline", chunks: ['{"a":1}'], frames: [], bad: 0 },
    { name: "blank lines ignored", chunks: ["\n\n{}\n"], frames: [{}], bad: 0 },
    { name: "bad JSON skipped, next frame read", chunks: ['{nope\n{"a":1}\n'], frames: [{ a: 1 }], bad: 1 },
    { name: "non-object rejected", chunks: ["[1]\n42\n"], frames: [], bad: 2 },
    { name: "a newline inside a string is escaped by JSON", chunks: [encodeFrame({ v: 1, seq: 1, item: { t: "x", s: "stdout", l: "a\nb" } as never })], frames: [{ v: 1, seq: 1, item: { t: "x", s: "stdout", l: "a\nb" } }], bad: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = decodeAll(c.chunks);
      expect(r.frames).toEqual(c.frames);
      expect(r.bad.length).toBe(c.bad);
    });
  }
  it("drops an overlong frame", () => {
    const r = decodeAll(["x".repeat(50)], 10);
    expect(r.bad).toEqual(["frame longer than 10 bytes"]);
  });
});
