// gunzip into one reused output buffer, synchronously. A gunzip stream hands
// out a fresh buffer per output piece, and touching that fresh memory (page
// faults, then garbage collection) cost more than the inflate itself: on
// bench/pull's blobs 0.78–0.89 s of CPU and 20 000 faults through a stream,
// against 0.40–0.49 s and 3 300 inflating into one buffer (docs/registry.md).
//
// Node has no public API for that, so this drives the zlib handle behind
// `new zlib.Gunzip()` the way zlib's own gunzipSync does (`writeSync` with
// explicit input and output ranges; `_writeState` holds what is left of
// each). gunzipInPlaceAvailable() tells whether this Node has it; when not,
// callers use the stream (decompress.ts).
import * as zlib from "node:zlib";
import { InvalidInputError } from "../../errors.js";

interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOffset: number, inLength: number, out: Uint8Array, outOffset: number, outLength: number): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

interface GunzipInternals {
  _handle?: ZlibHandle;
  _writeState?: Uint32Array;
}

const OUTPUT = 1024 * 1024;
/** Output buffers of finished inflates, for the next ones (fresh memory is what costs). */
const spareOutputs: Buffer[] = [];
const NO_INPUT = Buffer.alloc(0);

export function gunzipInPlaceAvailable(): boolean {
  const probe = new zlib.Gunzip() as unknown as GunzipInternals & zlib.Gunzip;
  const ok = typeof probe._handle?.writeSync === "function" && probe._writeState instanceof Uint32Array && probe._writeState.length === 2;
  probe.close();
  return ok;
}

/**
 * Inflates a gzip stream given piece by piece. `output` receives views of
 * one reused buffer — each up to 1 MiB, filled before it is handed over —
 * and must be done with the bytes when it returns. A corrupt or truncated
 * stream throws an InvalidInputError naming `what`.
 */
export class GunzipInPlace {
  private readonly gunzip: zlib.Gunzip;
  private readonly handle: ZlibHandle;
  private readonly state: Uint32Array;
  private readonly out: Buffer;
  private fill = 0;
  private error: string | undefined;
  private closed = false;

  constructor(private readonly what: string, private readonly output: (bytes: Buffer) => void, outputSize = OUTPUT) {
    this.gunzip = new zlib.Gunzip();
    const internals = this.gunzip as unknown as GunzipInternals;
    this.handle = internals._handle!;
    this.state = internals._writeState!;
    this.handle.onerror = (message) => (this.error = message);
    this.out = outputSize === OUTPUT ? (spareOutputs.pop() ?? Buffer.allocUnsafe(OUTPUT)) : Buffer.allocUnsafe(outputSize);
  }

  write(input: Uint8Array): void {
    this.inflate(zlib.constants.Z_NO_FLUSH, input);
  }

  /** The input is complete: hands over what is left, or throws when the stream was cut short. */
  end(): void {
    try {
      this.inflate(zlib.constants.Z_FINISH, NO_INPUT);
      if (this.fill > 0) this.output(this.out.subarray(0, this.fill));
      this.fill = 0;
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.gunzip.close();
    if (this.out.length === OUTPUT) spareOutputs.push(this.out);
  }

  private inflate(flush: number, input: Uint8Array): void {
    if (this.closed) throw new Error("GunzipInPlace used after its end");
    let inOffset = 0;
    let inLength = input.length;
    for (;;) {
      const room = this.out.length - this.fill;
      this.handle.writeSync(flush, input, inOffset, inLength, this.out, this.fill, room);
      if (this.error !== undefined) {
        const detail = this.error;
        this.close();
        throw new InvalidInputError(`cannot decompress ${this.what}: gzip: ${detail}`, { hint: "the file is truncated or corrupt; fetch or export it again" });
      }
      const produced = room - this.state[0]!;
      const consumed = inLength - this.state[1]!;
      this.fill += produced;
      inOffset += consumed;
      inLength -= consumed;
      if (this.fill === this.out.length) {
        this.output(this.out);
        this.fill = 0;
        continue;
      }
      // All input taken with room to spare; or nothing moves (zeros after the last member, which gunzip ignores too).
      if (inLength === 0 || (produced === 0 && consumed === 0)) return;
    }
  }
}
