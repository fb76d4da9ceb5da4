// Whether a binary is statically linked: an ELF file without a PT_INTERP
// program header needs no dynamic loader, so it runs alone in an image.

const PT_INTERP = 3;

/** undefined when `head` is not an ELF file (or too short to tell). `head` should hold the program headers (the first 4 KiB do for any normal binary). */
export function isStaticElf(head: Buffer): boolean | undefined {
  if (head.length < 52 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  const u16 = (o: number) => (le ? head.readUInt16LE(o) : head.readUInt16BE(o));
  const u32 = (o: number) => (le ? head.readUInt32LE(o) : head.readUInt32BE(o));
  const phoff = is64 ? Number(le ? head.readBigUInt64LE(0x20) : head.readBigUInt64BE(0x20)) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  if (phentsize === 0 || phoff + phnum * phentsize > head.length) return undefined;
  for (let i = 0; i < phnum; i++) if (u32(phoff + i * phentsize) === PT_INTERP) return false;
  return true;
}
