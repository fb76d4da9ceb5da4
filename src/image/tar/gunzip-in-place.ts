// gunzip into pooled, reused output buffers, on libuv's threadpool. A
// gunzip stream hands out a fresh buffer per output piece, and touching that
// fresh memory (page faults, then garbage collection) cost more than the
// inflate itself: on bench/pull's blobs 0.78–0.89 s of CPU and 20 000 faults
// through a stream, against 0.40–0.49 s and 3 300 inflating into one buffer
// (docs/registry.md).
//
// Node has no public API for that, so this drives a zlib handle of its own,
// made as `new zlib.InflateRaw()` makes its handle (the class behind
// `_handle`, `init` with a write-state array and a completion callback) and
// written with explicit input and output ranges as zlib's streams do inside:
// `write` runs the inflate on a threadpool thread and calls back on the main
// thread, `onerror` reports a corrupt stream. The main thread meanwhile
// serves the other downloads, hashes and parses tars: a pull's inflate runs
// on the second core without a V8 isolate (a worker thread costs ~85 ms of
// CPU to boot here). gunzipInPlaceAvailable() tells whether this Node has
// the handle's methods; when not, callers use the stream (decompress.ts).
//
// The gzip framing (RFC 1952: a header, the deflate stream, a trailer of
// CRC-32 and length; members may follow one another) is read here, around a
// raw inflate, so that zlib does not compute the CRC-32 of every output byte
// (~20% of the inflate's CPU): every caller checks the sha256 of the output
// against the image config's diff_id before the layer is kept, a stronger
// check of the same bytes. The trailer's length is checked. As with Node's
// gunzip, zero bytes after a member end the stream (padding), and anything
// else there must be another member.
import * as zlib from "node:zlib";
import { InvalidInputError } from "../../errors.js";
import { BufferPool, type BufferHolder, type HeldBuffer } from "./held-buffer.js";

interface ZlibHandle {
  init(windowBits: number, level: number, memLevel: number, strategy: number, writeState: Uint32Array, done: () => void, dictionary: undefined): void;
  write(flush: number, input: Uint8Array, inOffset: number, inLength: number, out: Uint8Array, outOffset: number, outLength: number): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

type ZlibHandleClass = new (mode: number) => ZlibHandle;

interface ZlibInternals {
  _handle?: ZlibHandle & { constructor: ZlibHandleClass };
}

const OUTPUT = 256 * 1024;
/**
 * Output buffers for every inflate of the process. A filler that finds this
 * many out (held by itself, other layers' fillers and the file writes still
 * copying from them) waits for one to come back: file writes slower than the
 * inflate must not turn into unbounded fresh memory. Each filler holds at
 * most one buffer while it waits for none, so this never blocks for good.
 */
const MAX_OUTSTANDING = 16;
const outputs = new BufferPool(OUTPUT, MAX_OUTSTANDING);
const NO_INPUT = Buffer.alloc(0);
const WINDOW_BITS = 15;

let handleClass: ZlibHandleClass | null | undefined;

function zlibHandleClass(): ZlibHandleClass | null {
  if (handleClass !== undefined) return handleClass;
  const probe = new zlib.InflateRaw() as unknown as ZlibInternals & zlib.InflateRaw;
  const h = probe._handle;
  const ok = typeof h?.write === "function" && typeof h.init === "function" && typeof h.reset === "function" && typeof h.close === "function";
  handleClass = ok ? h!.constructor : null;
  probe.close();
  return handleClass;
}

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FRESERVED = 0xe0;
const FIXED_HEADER = 10;
const TRAILER = 8;

/** Where the reader is in the gzip framing. */
type Part =
  | "header" // the 10 fixed bytes
  | "extra-length"
  | "extra"
  | "name"
  | "comment"
  | "header-crc"
  | "deflate"
  | "trailer"
  | "between" // a member ended: another one, or zero padding
  | "padding"; // zeros seen after the last member: the rest is ignored

export function gunzipInPlaceAvailable(): boolean {
  return zlibHandleClass() !== null;
}

/** Receives inflated bytes: a view valid during the call, and its buffer to hold while a write still copies from it. */
export type InflateOutput = (bytes: Buffer, holder: BufferHolder) => void;

/** The inflate on the threadpool, waiting for its callback. */
interface InFlight {
  flush: number;
  input: Uint8Array;
  inOffset: number;
  inLength: number;
  room: number;
  resolve: (next: number) => void;
  reject: (error: unknown) => void;
}

/**
 * Inflates a gzip stream given piece by piece. write() returns a promise
 * while the inflate runs on the threadpool: the piece must stay unchanged
 * until it settles, and the next write waits for it. `output` receives the
 * inflated bytes as they come, in order — views of pooled 256 KiB buffers —
 * and must be done with them when it returns unless it holds their buffer.
 * A corrupt or truncated stream rejects with an InvalidInputError naming
 * `what`; what `output` throws rejects too. The CRC-32 of the trailer is
 * not checked (see above): the caller checks the output's digest.
 */
export class GunzipInPlace {
  private readonly handle: ZlibHandle;
  private readonly state = new Uint32Array(2);
  private out: HeldBuffer | undefined;
  private fill = 0;
  private inFlight: InFlight | undefined;
  private closed = false;
  private part: Part = "header";
  /** Bytes of the current header field or trailer gathered so far (they may arrive split across pieces). */
  private readonly gathered = Buffer.alloc(FIXED_HEADER);
  private gatheredBytes = 0;
  private flags = 0;
  private extraLeft = 0;
  /** Output bytes of the current member, modulo 2^32 as the trailer has them. */
  private memberSize = 0;

  /** `pool`: where output buffers come from (tests pass small ones). */
  constructor(private readonly what: string, private readonly output: InflateOutput, private readonly pool: BufferPool = outputs) {
    const Handle = zlibHandleClass();
    if (!Handle) throw new Error("GunzipInPlace: this Node's zlib has no handle to drive (check gunzipInPlaceAvailable first)");
    this.handle = new Handle(zlib.constants.INFLATERAW);
    this.handle.onerror = (message) => this.failed(message);
    const self = this;
    this.handle.init(WINDOW_BITS, zlib.constants.Z_DEFAULT_COMPRESSION, zlib.constants.Z_DEFAULT_MEMLEVEL, zlib.constants.Z_DEFAULT_STRATEGY, this.state, () => self.inflated(), undefined);
  }

  /** The next piece of the stream; a promise while part of it inflates on the threadpool (the piece must stay unchanged until then). */
  write(input: Uint8Array): void | Promise<void> {
    if (this.closed) throw new Error("GunzipInPlace used after its end");
    if (this.inFlight) throw new Error("GunzipInPlace.write before the previous write settled");
    return this.run(input, 0);
  }

  /** The input is complete: inflates what zlib still holds, or rejects when the stream was cut short. */
  async end(): Promise<void> {
    if (this.closed) throw new Error("GunzipInPlace used after its end");
    try {
      if (this.part === "deflate") await this.inflate(zlib.constants.Z_FINISH, NO_INPUT, 0);
      if (this.part !== "between" && this.part !== "padding") throw this.corrupt("unexpected end of file");
    } finally {
      this.close();
    }
  }

  /** Stops (after a failure elsewhere); idempotent. An inflate still running finishes on its thread, its output unused. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
    if (!this.inFlight) this.dropOutput();
  }

  private dropOutput(): void {
    this.out?.release();
    this.out = undefined;
  }

  /** Reads `input` from `at` to its end, synchronously as far as the framing goes. */
  private run(input: Uint8Array, at: number): void | Promise<void> {
    try {
      while (at < input.length) {
        if (this.part === "deflate") return this.inflate(zlib.constants.Z_NO_FLUSH, input, at).then((next) => this.run(input, next));
        at = this.step(input, at);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private corrupt(detail: string): InvalidInputError {
    return new InvalidInputError(`cannot decompress ${this.what}: gzip: ${detail}`, { hint: "the file is truncated or corrupt; fetch or export it again" });
  }

  /** Takes up to `want` bytes into `gathered`; true once it holds them all. */
  private gather(input: Uint8Array, at: number, want: number): [boolean, number] {
    const take = Math.min(want - this.gatheredBytes, input.length - at);
    this.gathered.set(input.subarray(at, at + take), this.gatheredBytes);
    this.gatheredBytes += take;
    return [this.gatheredBytes === want, at + take];
  }

  /** Reads the input from `at` as far as the current part goes; returns where it stopped. */
  private step(input: Uint8Array, at: number): number {
    switch (this.part) {
      case "between": {
        if (input[at] === 0) {
          this.part = "padding";
          return input.length;
        }
        this.part = "header";
        this.handle.reset();
        return at;
      }
      case "padding":
        return input.length;
      case "header": {
        const [done, next] = this.gather(input, at, FIXED_HEADER);
        // Checked as soon as the bytes are there, so that a stream that is not gzip fails at once.
        if (this.gatheredBytes >= 1 && this.gathered[0] !== 0x1f) throw this.corrupt("incorrect header check");
        if (this.gatheredBytes >= 2 && this.gathered[1] !== 0x8b) throw this.corrupt("incorrect header check");
        if (this.gatheredBytes >= 3 && this.gathered[2] !== 8) throw this.corrupt("unknown compression method");
        if (!done) return next;
        this.flags = this.gathered[3]!;
        if (this.flags & FRESERVED) throw this.corrupt("unknown header flags set");
        this.gatheredBytes = 0;
        this.part = this.afterFixedHeader();
        return next;
      }
      case "extra-length": {
        const [done, next] = this.gather(input, at, 2);
        if (!done) return next;
        this.extraLeft = this.gathered.readUInt16LE(0);
        this.gatheredBytes = 0;
        this.part = this.extraLeft > 0 ? "extra" : this.afterExtra();
        return next;
      }
      case "extra": {
        const take = Math.min(this.extraLeft, input.length - at);
        this.extraLeft -= take;
        if (this.extraLeft === 0) this.part = this.afterExtra();
        return at + take;
      }
      case "name":
      case "comment": {
        const zero = input.indexOf(0, at);
        if (zero === -1) return input.length;
        this.part = this.part === "name" ? this.afterName() : this.afterComment();
        return zero + 1;
      }
      case "header-crc": {
        const [done, next] = this.gather(input, at, 2);
        if (!done) return next;
        this.gatheredBytes = 0;
        this.part = "deflate";
        this.memberSize = 0;
        return next;
      }
      case "deflate":
        throw new Error("GunzipInPlace: the deflate part is inflated asynchronously");
      case "trailer": {
        const [done, next] = this.gather(input, at, TRAILER);
        if (!done) return next;
        if (this.gathered.readUInt32LE(4) !== this.memberSize) throw this.corrupt("incorrect length check");
        this.gatheredBytes = 0;
        this.part = "between";
        return next;
      }
    }
  }

  private afterFixedHeader(): Part {
    return this.flags & FEXTRA ? "extra-length" : this.afterExtra();
  }

  private afterExtra(): Part {
    return this.flags & FNAME ? "name" : this.afterName();
  }

  private afterName(): Part {
    return this.flags & FCOMMENT ? "comment" : this.afterComment();
  }

  private afterComment(): Part {
    if (this.flags & FHCRC) return "header-crc";
    this.memberSize = 0;
    return "deflate";
  }

  /**
   * Inflates from `at` until the input is used up or the deflate stream ends
   * (then the trailer follows); resolves with where it stopped. Each turn on
   * the threadpool fills the current output buffer further, and what it
   * produced is handed over at once.
   */
  private inflate(flush: number, input: Uint8Array, at: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.inFlight = { flush, input, inOffset: at, inLength: input.length - at, room: 0, resolve, reject };
      this.next().catch((e: unknown) => this.settle(e));
    });
  }

  /** Starts the next turn of the inflate in flight, with an output buffer that has room (waiting for one to come back if too many are out). */
  private async next(): Promise<void> {
    const f = this.inFlight!;
    if (!this.out) {
      const taken = this.pool.take();
      this.out = taken instanceof Promise ? await taken : taken;
      this.fill = 0;
      if (this.closed) return this.settle(new Error("GunzipInPlace closed"));
    }
    f.room = this.out.bytes.length - this.fill;
    this.handle.write(f.flush, f.input, f.inOffset, f.inLength, this.out.bytes, this.fill, f.room);
  }

  /** zlib's callback: one turn of the inflate is done. */
  private inflated(): void {
    const f = this.inFlight!;
    if (this.closed) return this.settle(new Error("GunzipInPlace closed"));
    try {
      const out = this.out!;
      const produced = f.room - this.state[0]!;
      const consumed = f.inLength - this.state[1]!;
      f.inOffset += consumed;
      f.inLength -= consumed;
      if (produced > 0) {
        const start = this.fill;
        this.fill += produced;
        this.memberSize = (this.memberSize + produced) >>> 0;
        this.output(out.bytes.subarray(start, this.fill), out);
      }
      if (this.fill === out.bytes.length) {
        // Full: the writes still copying from it hold it; the next turn takes another.
        this.dropOutput();
        this.next().catch((e: unknown) => this.settle(e));
        return;
      }
      // Only a stream that had ended gets here without an error after Z_FINISH; its trailer is still to come.
      // Otherwise, room and input left, yet inflate stopped: the deflate stream is complete.
      if (f.flush === zlib.constants.Z_FINISH || f.inLength > 0) this.part = "trailer";
      this.settle(undefined, f.inOffset);
    } catch (e) {
      this.settle(e);
    }
  }

  /** zlib's error callback: the deflate data is corrupt. */
  private failed(message: string): void {
    if (this.inFlight) this.settle(this.corrupt(message));
  }

  private settle(error: unknown, next = 0): void {
    const f = this.inFlight;
    if (!f) return;
    this.inFlight = undefined;
    if (error !== undefined) {
      this.close();
      this.dropOutput();
      f.reject(error);
    } else if (this.closed) {
      this.dropOutput();
      f.reject(new Error("GunzipInPlace closed"));
    } else {
      f.resolve(next);
    }
  }
}
