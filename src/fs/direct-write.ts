// Big writes that bypass the page cache (O_DIRECT): a pulled blob, and the
// large files of a layer being unpacked. Both are written once and mostly not
// read again soon (a blob only by `image save` or `push`; of a layer's files,
// a container reads a few). A page-cache write first copies into fresh cache
// pages, and on a VM whose free memory the host has taken back, each fresh
// page costs a host fault: here 200 MB took 550 ms of kernel CPU buffered
// against ~20 ms direct (docs/registry.md). A direct write instead has the
// device read the caller's buffer, from a threadpool thread, while the main
// thread goes on.
//
// O_DIRECT wants the memory, the file offset and the length aligned (to 512
// bytes at least, 4096 on ext4 here; a buffer off by 16 bytes was 30x slower
// or refused). Node cannot allocate aligned memory, but WebAssembly memory
// is mapped page-aligned, so the staging buffers are cut from one. Bytes are
// copied into a staging buffer (cheap: it is warm), a full one goes to the
// device asynchronously, and the file's last partial block is written through
// a second, plain descriptor. When few buffers are free (the device is
// behind), the producers pause (directWritesBehind) so that completions can
// run; should none be free all the same, a full one is written at once.
//
// Where O_DIRECT is refused (a filesystem without it, a Node without
// WebAssembly), openDirect() returns null and the caller writes as before.
// Whether to try at all is the caller's choice, on what the page cache has
// been costing (wantDirect, fs/page-cache-cost.ts): where it is cheap, it is
// the better way.
import { closeSync, constants, openSync, unlinkSync, write, writeSync } from "node:fs";
import { pageCacheCost, writePlainSync } from "./page-cache-cost.js";

/** Alignment of offsets and lengths of direct writes (ext4's block; a multiple of every device's logical block). */
export const DIRECT_ALIGN = 4096;
/** A staging buffer: one write to the device. 1 MiB and 256 KiB did no better here; smaller writes cost more system calls per byte. */
export const STAGE_BYTES = 512 * 1024;
/** Staging buffers in all: 12 MiB of address space, of which a page costs only once touched. */
export const STAGE_POOL = 24;
/**
 * Free buffers below which a producer should wait (directWritesBehind): each
 * open writer holds one, and one piece of input can open several large files
 * or fill several buffers before the producer can stop.
 */
const RESERVE = 8;

/** Files smaller than this are written through the page cache: a direct write's extra open and round trip cost more than the copy. */
export const DIRECT_MIN_BYTES = 64 * 1024;

/** Whether a file of `size` bytes should be written past the page cache. */
export type DirectPolicy = (size: number) => boolean;

/** The policy: large enough, and the page cache has been measured slow here. */
export function wantDirect(size: number): boolean {
  return size >= DIRECT_MIN_BYTES && pageCacheCost.slow;
}

let arena: ArrayBuffer | null | undefined;
let carved = 0;
const spare: Buffer[] = [];
/** False once a filesystem refused O_DIRECT or WebAssembly is missing: then nothing tries again. */
let usable = true;
/** Producers waiting for buffers to come back. */
let waiters: Array<() => void> = [];
/** Writes on their way to the device, of all writers: only their completions give buffers back. */
let writesInFlight = 0;

function makeArena(): ArrayBuffer | null {
  try {
    // 64 KiB wasm pages, mapped on a page boundary.
    const pages = (STAGE_POOL * STAGE_BYTES) / 65536;
    return new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer;
  } catch {
    return null;
  }
}

function takeBuffer(): Buffer | undefined {
  const b = spare.pop();
  if (b) return b;
  if (carved === STAGE_POOL) return undefined;
  arena ??= makeArena();
  if (!arena) {
    usable = false;
    return undefined;
  }
  return Buffer.from(arena, STAGE_BYTES * carved++, STAGE_BYTES);
}

/** How many staging buffers are out (held by writers or in flight). */
export function stagingBuffersOut(): number {
  return carved - spare.length;
}

/** Whether a producer should wait: few buffers free, and some will come back (held ones come back only when their files end). */
function behind(): boolean {
  return STAGE_POOL - stagingBuffersOut() < RESERVE && writesInFlight > 0;
}

function giveBack(buffer: Buffer): void {
  spare.push(buffer);
  if (waiters.length > 0 && !behind()) {
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  }
}

/**
 * A promise when so many staging buffers are out that whoever produces the
 * bytes (a socket, an inflater) should stop until some come back: the
 * writes' completions only run when the main thread yields. Undefined when
 * there is room, or when nothing in flight could give a buffer back.
 */
export function directWritesBehind(): Promise<void> | undefined {
  if (!behind()) return undefined;
  return new Promise((resolve) => waiters.push(resolve));
}

export type OpenFile = (path: string, flags: number, mode: number) => number;

/**
 * Opens (creates, with `flags`) a file for direct writes; null when direct
 * writes are not possible here, and then nothing was created: the caller
 * opens the file itself. `open` is for tests.
 */
export function openDirect(path: string, flags: number, mode: number, open: OpenFile = openSync): DirectWriter | null {
  if (!usable) return null;
  const stage = takeBuffer();
  if (!stage) return null;
  let fd: number;
  try {
    fd = open(path, flags | constants.O_DIRECT, mode);
  } catch (e) {
    giveBack(stage);
    if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
    // The filesystem refuses O_DIRECT. The kernel checks that after creating the file: remove it.
    usable = false;
    if (flags & constants.O_CREAT) unlinkQuietly(path);
    return null;
  }
  return new DirectWriter(fd, stage);
}

/** Closes a descriptor that may have direct writes in flight (`direct` its writer, or null): they are abandoned and awaited first. */
export async function closeAbandoning(fd: number, direct: DirectWriter | null | undefined): Promise<void> {
  try {
    await direct?.abandon();
  } finally {
    closeSync(fd);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not created
  }
}

/**
 * Writes a file opened with O_DIRECT from the start, sequentially. write()
 * copies its bytes before it returns; end() writes what is left and settles
 * once every write is done (rejecting with the first failure); abandon()
 * stops and settles once nothing is in flight. The descriptor stays the
 * caller's, who closes it after either has settled — never before, as a
 * write may still be using it.
 */
export class DirectWriter {
  /** File offset of the staging buffer's first byte. */
  private offset = 0;
  private staged = 0;
  private inFlight = 0;
  private failure: Error | undefined;
  private drained: (() => void) | undefined;
  private stage: Buffer | undefined;

  constructor(readonly fd: number, stage: Buffer) {
    this.stage = stage;
  }

  write(bytes: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (!this.stage) throw new Error("DirectWriter.write after its end");
    let from = 0;
    while (from < bytes.length) {
      const n = Math.min(bytes.length - from, STAGE_BYTES - this.staged);
      this.stage.set(bytes.subarray(from, from + n), this.staged);
      this.staged += n;
      from += n;
      if (this.staged === STAGE_BYTES) this.flushFull();
    }
  }

  /** A full staging buffer to the device: asynchronously when another buffer is free to stage into, else now. */
  private flushFull(): void {
    const full = this.stage!;
    const next = takeBuffer();
    if (next) {
      this.submit(full, STAGE_BYTES, this.offset);
      this.stage = next;
    } else {
      writeDirectSync(this.fd, full, STAGE_BYTES, this.offset);
    }
    this.offset += STAGE_BYTES;
    this.staged = 0;
  }

  private submit(buffer: Buffer, length: number, position: number): void {
    this.inFlight++;
    writesInFlight++;
    write(this.fd, buffer, 0, length, position, (e, written) => {
      this.inFlight--;
      writesInFlight--;
      try {
        if (e) throw e;
        // A short direct write (the disk filling up) is finished plainly from where it stopped; that fails with ENOSPC if it must.
        if (written < length) writeThroughPlain(this.fd, buffer.subarray(written, length), position + written);
      } catch (err) {
        this.failure ??= err as Error;
      }
      giveBack(buffer);
      if (this.inFlight === 0) this.drained?.();
    });
  }

  private settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  /** Writes the rest: its whole blocks directly, the last partial block through a plain descriptor. */
  async end(): Promise<void> {
    const stage = this.stage;
    if (!stage) throw new Error("DirectWriter.end twice");
    this.stage = undefined;
    try {
      if (this.failure) throw this.failure;
      const whole = this.staged - (this.staged % DIRECT_ALIGN);
      if (this.staged > whole) writeThroughPlain(this.fd, stage.subarray(whole, this.staged), this.offset + whole);
      if (whole > 0) this.submit(stage, whole, this.offset);
      else giveBack(stage);
    } catch (e) {
      giveBack(stage);
      this.failure ??= e as Error;
    }
    await this.settled();
    if (this.failure) throw this.failure;
  }

  /** Stops: what is staged is dropped; settles once no write is in flight. */
  async abandon(): Promise<void> {
    if (this.stage) giveBack(this.stage);
    this.stage = undefined;
    await this.settled();
  }
}

/** A direct write now; a short one is finished plainly, as in submit(). */
function writeDirectSync(fd: number, buffer: Buffer, length: number, position: number): void {
  const written = writeSync(fd, buffer, 0, length, position);
  if (written < length) writeThroughPlain(fd, buffer.subarray(written, length), position + written);
}

/**
 * Writes bytes that are not a whole number of blocks (or not at an aligned
 * offset) through a plain descriptor of the same file, reopened by its
 * /proc/self/fd link: the same inode even if the path was replaced.
 */
function writeThroughPlain(fd: number, bytes: Buffer, position: number): void {
  const plain = openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY);
  try {
    writePlainSync(plain, bytes, position);
  } finally {
    closeSync(plain);
  }
}
