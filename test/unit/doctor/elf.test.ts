import { closeSync, openSync, readSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { isStaticElf } from "../../../src/doctor/elf.js";

/** A minimal ELF64 little-endian header with the given program header types. */
function elf64(types: number[]): Buffer {
  const phoff = 64;
  const buf = Buffer.alloc(phoff + types.length * 56);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // 64-bit
  buf[5] = 1; // little-endian
  buf.writeBigUInt64LE(BigInt(phoff), 0x20);
  buf.writeUInt16LE(56, 0x36);
  buf.writeUInt16LE(types.length, 0x38);
  types.forEach((t, i) => buf.writeUInt32LE(t, phoff + i * 56));
  return buf;
}

/** ELF32 big-endian (e.g. an old MIPS binary). */
function elf32be(types: number[]): Buffer {
  const phoff = 52;
  const buf = Buffer.alloc(phoff + types.length * 32);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 1;
  buf[5] = 2;
  buf.writeUInt32BE(phoff, 0x1c);
  buf.writeUInt16BE(32, 0x2a);
  buf.writeUInt16BE(types.length, 0x2c);
  types.forEach((t, i) => buf.writeUInt32BE(t, phoff + i * 32));
  return buf;
}

describe("isStaticElf", () => {
  test.each([
    { name: "64-bit LE without PT_INTERP", head: elf64([6, 1, 1, 4]), expected: true },
    { name: "64-bit LE with PT_INTERP", head: elf64([6, 3, 1, 1]), expected: false },
    { name: "32-bit BE without PT_INTERP", head: elf32be([1, 1]), expected: true },
    { name: "32-bit BE with PT_INTERP", head: elf32be([3, 1]), expected: false },
    { name: "a shell script", head: Buffer.from("#!/bin/sh\necho hello world, this is long enough to be read as a header\n"), expected: undefined },
    { name: "program headers cut off", head: elf64([1, 1, 1]).subarray(0, 100), expected: undefined },
  ])("$name", ({ head, expected }) => {
    expect(isStaticElf(head)).toBe(expected);
  });

  test("the host's node is dynamically linked", () => {
    const fd = openSync(process.execPath, "r");
    const head = Buffer.alloc(4096);
    try {
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    expect(isStaticElf(head)).toBe(false);
  });
});
