// gunzip into one reused output buffer, synchronously. A gunzip stream hands
// out a fresh buffer per output piece, and touching that fresh memory (page
// faults, then garbage collection) cost more than the inflate itself: on
// bench/pull's blobs 0.78–0.89 s of CPU and 20 000 faults through a stream,
// against 0.40–0.49 s and 3 300 inflating into one buffer (docs/registry.md).
//
// Node has no public API for that, so this drives the zlib handle behind
// `new zlib.InflateRaw()` the way zlib's own inflateRawSync does (`writeSync`
// with explicit input and output ranges; `_writeState` holds what is left of
// each). gunzipInPlaceAvailable() tells whether this Node has it; when not,
// callers use the stream (decompress.ts).
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

interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOffset: number, inLength: number, out: Uint8Array, outOffset: number, outLength: number): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

interface ZlibInternals {
  _handle?: ZlibHandle;
  _writeState?: Uint32Array;
}

const OUTPUT = 1024 * 1024;
/** Output buffers of finished inflates, for the next ones (fresh memory is what costs). */
const spareOutputs: Buffer[] = [];
const NO_INPUT = Buffer.alloc(0);

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
  const probe = new zlib.InflateRaw() as unknown as ZlibInternals & zlib.InflateRaw;
  const ok =
    typeof probe._handle?.writeSync === "function" && typeof probe._handle.reset === "function" && probe._writeState instanceof Uint32Array && probe._writeState.length === 2;
  probe.close();
  return ok;
}

/**
 * Inflates a gzip stream given piece by piece. `output` receives views of
 * one reused buffer — each up to 1 MiB, filled before it is handed over —
 * and must be done with the bytes when it returns. A corrupt or truncated
 * stream throws an InvalidInputError naming `what`. The CRC-32 of the
 * trailer is not checked (see above): the caller checks the output's digest.
 */
export class GunzipInPlace {
  private readonly inflater: zlib.InflateRaw;
  private readonly handle: ZlibHandle;
  private readonly state: Uint32Array;
  private readonly out: Buffer;
  private fill = 0;
  private error: string | undefined;
  private closed = false;
  private part: Part = "header";
  /** Bytes of the current header field or trailer gathered so far (they may arrive split across pieces). */
  private readonly gathered = Buffer.alloc(FIXED_HEADER);
  private gatheredBytes = 0;
  private flags = 0;
  private extraLeft = 0;
  /** Output bytes of the current member, modulo 2^32 as the trailer has them. */
  private memberSize = 0;

  /** Set when `pause` asked to wait after an output: write() returns it, and goes on once it settles. */
  private waiting: Promise<void> | undefined;

  /**
   * `pause`, asked after each full output, may return a promise to stop on:
   * the rest of the input is inflated once it settles (write() returns a
   * promise then). Without it, write() does all its input before returning.
   */
  constructor(
    private readonly what: string,
    private readonly output: (bytes: Buffer) => void,
    outputSize = OUTPUT,
    private readonly pause?: () => Promise<void> | undefined,
  ) {
    this.inflater = new zlib.InflateRaw();
    const internals = this.inflater as unknown as ZlibInternals;
    this.handle = internals._handle!;
    this.state = internals._writeState!;
    this.handle.onerror = (message) => (this.error = message);
    this.out = outputSize === OUTPUT ? (spareOutputs.pop() ?? Buffer.allocUnsafe(OUTPUT)) : Buffer.allocUnsafe(outputSize);
  }

  write(input: Uint8Array): void | Promise<void> {
    if (this.closed) throw new Error("GunzipInPlace used after its end");
    return this.from(input, 0, false);
  }

  /** Goes on with `input` from `at`: after a pause the deflate part first drains what the inflater still holds. */
  private from(input: Uint8Array, at: number, resumed: boolean): void | Promise<void> {
    try {
      if (resumed && this.part === "deflate") at = this.inflate(zlib.constants.Z_NO_FLUSH, input, at);
      while (!this.waiting && at < input.length) at = this.step(input, at);
    } catch (e) {
      this.close();
      throw e;
    }
    const waiting = this.waiting;
    if (!waiting) return;
    this.waiting = undefined;
    return waiting.then(() => {
      if (this.closed) throw new Error("GunzipInPlace closed while paused");
      return this.from(input, at, true);
    });
  }

  /** The input is complete: hands over what is left, or throws when the stream was cut short. */
  end(): void {
    if (this.closed) throw new Error("GunzipInPlace used after its end");
    try {
      if (this.part === "deflate") this.inflate(zlib.constants.Z_FINISH, NO_INPUT, 0);
      if (this.part !== "between" && this.part !== "padding") throw this.corrupt("unexpected end of file");
      if (this.fill > 0) this.output(this.out.subarray(0, this.fill));
      this.fill = 0;
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inflater.close();
    if (this.out.length === OUTPUT) spareOutputs.push(this.out);
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
        return this.inflate(zlib.constants.Z_NO_FLUSH, input, at);
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

  /** Inflates from `at` until the input is used up or the deflate stream ends (then the trailer follows); returns where it stopped. */
  private inflate(flush: number, input: Uint8Array, at: number): number {
    let inOffset = at;
    let inLength = input.length - at;
    for (;;) {
      const room = this.out.length - this.fill;
      this.handle.writeSync(flush, input, inOffset, inLength, this.out, this.fill, room);
      if (this.error !== undefined) throw this.corrupt(this.error);
      const produced = room - this.state[0]!;
      const consumed = inLength - this.state[1]!;
      this.fill += produced;
      this.memberSize = (this.memberSize + produced) >>> 0;
      inOffset += consumed;
      inLength -= consumed;
      if (this.fill === this.out.length) {
        this.output(this.out);
        this.fill = 0;
        if (flush !== zlib.constants.Z_FINISH) {
          this.waiting = this.pause?.();
          if (this.waiting) return inOffset;
        }
        continue;
      }
      if (flush === zlib.constants.Z_FINISH) {
        // Only a stream that had ended gets here without an error; its trailer is still to come.
        this.part = "trailer";
        return inOffset;
      }
      if (inLength === 0) return inOffset;
      // Room and input left, yet inflate stopped: the deflate stream is complete.
      this.part = "trailer";
      return inOffset;
    }
  }
}
