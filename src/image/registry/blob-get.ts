// One HTTP/1.1 GET on its own connection whose socket is read into one
// reused buffer (the `onread` option of net and tls), for blob downloads.
// node:http allocates a fresh buffer for every socket read and copies every
// body piece once more; for a 100 MB blob that was ~0.4 s of CPU, mostly page
// faults on the fresh memory (docs/registry.md). Here the body goes to
// `onBody` as views of the read buffer, one at a time: the consumer (ingest
// write, inflate, unpack) is done with the bytes when it returns, or returns
// a promise, and then the bytes stay unchanged and the socket is paused
// until it settles. A TLS socket may still hand over what it had decrypted
// after the pause, and even close: those bytes are read into another buffer
// (net asks `onread.buffer`, a function here, for each read's buffer) and
// queued for the consumer, and a close decides only once the queue is done.
//
// Only what a blob GET needs: Content-Length, chunked or close-delimited
// bodies, no request body, no keep-alive (`Connection: close`). A status
// other than 200 reads its (small) body into `errorBody` and leaves redirects
// and retries to the caller. Failures are plain Errors: the caller says what
// was being fetched (pull.ts: "download of blob … failed after N bytes: …").
import { connect as netConnect, isIP, type Socket } from "node:net";
import type { ConnectionOptions, SecureContext } from "node:tls";

export interface BlobGetOptions {
  headers: Record<string, string>;
  /** For https: the client's TLS context (CAs and client certificate). */
  secureContext?: SecureContext;
  idleMs: number;
  /** Called with each body piece of a 200 answer, in order, never twice at once; the bytes are valid during the call, or until its promise settles. */
  onBody: (bytes: Buffer) => void | Promise<void>;
  /** Lets the caller stop the transfer (another layer failed): the GET then fails with the error. */
  onStart?: (stop: (error: Error) => void) => void;
}

export interface BlobGetResult {
  status: number;
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  /** The body of a non-200 answer (at most 64 KiB). */
  errorBody: Buffer;
  /** Body bytes of a 200 answer. */
  received: number;
}

const READ_BUFFER = 256 * 1024;
/** Read buffers of finished GETs, for the next ones (a pull makes one GET per blob, 3 at a time). */
const spareReadBuffers: Buffer[] = [];
const MAX_HEAD = 64 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

type BodyMode = { kind: "length"; left: number } | { kind: "chunked" } | { kind: "close" };

/** Parses the status line and headers of a response head (without the blank line). */
export function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
  if (!m) throw new Error(`the registry sent an invalid HTTP status line ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`the registry sent an invalid HTTP header line ${JSON.stringify(line.slice(0, 80))}`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(m[1]), headers };
}

/**
 * Decodes a chunked body given piece by piece, handing the data on as views
 * of each piece. Chunk-size lines and trailers (a few bytes) are the only
 * bytes kept between pieces.
 */
export class ChunkedDecoder {
  private state: "size" | "data" | "data-end" | "trailer" | "done" = "size";
  private line = "";
  private left = 0;

  get done(): boolean {
    return this.state === "done";
  }

  /** Returns how many bytes of `piece` belonged to the body (the rest follows the final chunk). */
  push(piece: Buffer, out: (bytes: Buffer) => void): number {
    let i = 0;
    while (i < piece.length && this.state !== "done") {
      if (this.state === "data") {
        const take = Math.min(this.left, piece.length - i);
        out(piece.subarray(i, i + take));
        i += take;
        this.left -= take;
        if (this.left === 0) this.state = "data-end";
        continue;
      }
      const nl = piece.indexOf(0x0a, i);
      const end = nl === -1 ? piece.length : nl + 1;
      this.line += piece.toString("latin1", i, end);
      i = end;
      if (this.line.length > 4096) throw new Error("the registry sent a chunked body with an over-long chunk line");
      if (nl === -1) continue;
      const line = this.line.replace(/\r?\n$/, "");
      this.line = "";
      if (this.state === "data-end") {
        if (line !== "") throw new Error("the registry sent a chunked body with a chunk longer than announced");
        this.state = "size";
      } else if (this.state === "size") {
        const size = /^([0-9a-fA-F]{1,12})(;.*)?$/.exec(line);
        if (!size) throw new Error(`the registry sent an invalid chunk size line ${JSON.stringify(line.slice(0, 40))}`);
        this.left = parseInt(size[1]!, 16);
        this.state = this.left === 0 ? "trailer" : "data";
      } else if (line === "") {
        this.state = "done"; // the blank line after the (usually empty) trailers
      }
    }
    return i;
  }
}

/** node:tls's connect, loaded by the first HTTPS GET (a plain registry never needs the module). */
let tlsConnect: typeof import("node:tls").connect | undefined;

export function blobGet(url: URL, options: BlobGetOptions): Promise<BlobGetResult> {
  if (url.protocol === "https:" && !tlsConnect) {
    return import("node:tls").then((tls) => {
      tlsConnect = tls.connect;
      return blobGet(url, options);
    });
  }
  return new Promise<BlobGetResult>((resolve, reject) => {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    /** The buffer the next read goes into. */
    let readBuffer = spareReadBuffers.pop() ?? Buffer.allocUnsafe(READ_BUFFER);
    /** Read buffers with body views the consumer has not finished with (queued, or its promise pending), and how many. */
    const viewsIn = new Map<Buffer, number>();
    /** This GET's read buffers free again. */
    const free: Buffer[] = [];
    let closed = false;
    /** Body views waiting for the consumer, in order, with the read buffer each lies in. */
    const queue: Array<{ view: Buffer; from: Buffer }> = [];
    /** A consumer's promise is pending. */
    let busy = false;
    /** The socket was told to stop reading (a read callback returned false). */
    let paused = false;
    /** The registry closed its side (the end of a close-delimited body). */
    let ended = false;
    let settled = false;
    let head: Buffer[] = [];
    let headBytes = 0;
    let result: BlobGetResult | undefined;
    let body: BodyMode | undefined;
    let chunked: ChunkedDecoder | undefined;
    const errorParts: Buffer[] = [];

    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve({ ...result!, errorBody: Buffer.concat(errorParts) });
    };

    const cutShort = () => new Error(result ? `the connection closed after ${result.received} bytes of the body` : "the connection closed before the answer");

    const released = (from: Buffer): void => {
      const n = viewsIn.get(from)! - 1;
      if (n > 0) {
        viewsIn.set(from, n);
        return;
      }
      viewsIn.delete(from);
      if (closed) spareReadBuffers.push(from);
      else if (from !== readBuffer) free.push(from);
    };

    /** The next read's buffer: the last one again unless the consumer still has views of it (then another, so they stay intact). */
    const nextReadBuffer = (): Buffer => {
      if (viewsIn.has(readBuffer)) readBuffer = free.pop() ?? spareReadBuffers.pop() ?? Buffer.allocUnsafe(READ_BUFFER);
      return readBuffer;
    };

    /** One body view of the answer: to the consumer (200) or into the error body. */
    const consume = (bytes: Buffer): void | Promise<void> => {
      if (result!.status !== 200) {
        const room = MAX_ERROR_BODY - errorParts.reduce((n, b) => n + b.length, 0);
        if (room > 0) errorParts.push(Buffer.from(bytes.subarray(0, room)));
        return;
      }
      result!.received += bytes.length;
      return options.onBody(bytes);
    };

    /**
     * Hands the queued views to the consumer one after the other; a view
     * whose consumer returns a promise holds the rest back until it settles
     * (the socket paused meanwhile — a TLS socket may still deliver what it
     * had decrypted, which queues). True when the queue is empty and
     * nothing pending.
     */
    const pump = (): boolean => {
      while (!busy && queue.length > 0) {
        const { view, from } = queue.shift()!;
        let pending: void | Promise<void> = undefined;
        try {
          pending = consume(view);
        } finally {
          if (!pending) released(from);
        }
        if (!pending) continue;
        busy = true;
        pending.then(
          () => {
            busy = false;
            released(from);
            if (settled) return;
            try {
              if (!pump()) return;
            } catch (e) {
              return finish(e);
            }
            if (bodyComplete()) finish();
            else if (closed) finish(cutShort());
            else if (paused) {
              paused = false;
              socket.resume();
            }
          },
          (e: unknown) => {
            busy = false;
            released(from);
            finish(e);
          },
        );
      }
      return !busy && queue.length === 0;
    };

    /** Queues body views lying in the read buffer `from` and hands over what it can; false to pause the socket. */
    const deliver = (views: Buffer[], from: Buffer): boolean => {
      for (const view of views) {
        if (view.length === 0) continue;
        viewsIn.set(from, (viewsIn.get(from) ?? 0) + 1);
        queue.push({ view, from });
      }
      if (pump()) return true;
      paused = true;
      return false;
    };

    const bodyComplete = () => (body?.kind === "length" && body.left === 0) || (chunked?.done ?? false) || (body?.kind === "close" && ended);

    /** Takes the bytes of one socket read (a view of `from`); false to pause. */
    const onBytes = (bytes: Buffer, from: Buffer): boolean => {
      if (!result) {
        const room = MAX_HEAD - headBytes;
        const end = findHeadEnd(head, bytes);
        if (end === -1) {
          if (bytes.length >= room) throw new Error(`the registry sent a response head larger than ${MAX_HEAD} bytes`);
          head.push(Buffer.from(bytes));
          headBytes += bytes.length;
          return true;
        }
        const all = Buffer.concat([...head, bytes.subarray(0, end - headBytes)]);
        head = [];
        const parsed = parseHead(all.toString("latin1", 0, all.length - 4));
        result = { ...parsed, errorBody: Buffer.alloc(0), received: 0 };
        const length = parsed.headers["content-length"];
        if (/chunked/i.test(parsed.headers["transfer-encoding"] ?? "")) {
          body = { kind: "chunked" };
          chunked = new ChunkedDecoder();
        } else if (length !== undefined) {
          if (!/^\d{1,15}$/.test(length)) throw new Error(`the registry sent an invalid Content-Length ${JSON.stringify(length)}`);
          body = { kind: "length", left: Number(length) };
        } else {
          body = { kind: "close" };
        }
        bytes = bytes.subarray(end - headBytes);
        headBytes = 0;
        if (bodyComplete()) {
          finish();
          return false;
        }
      }
      let go: boolean;
      if (body!.kind === "length") {
        const take = Math.min(body!.left, bytes.length);
        body!.left -= take;
        go = deliver([bytes.subarray(0, take)], from);
      } else if (body!.kind === "chunked") {
        // A chunked piece can hold several chunks, delivered in turn.
        const views: Buffer[] = [];
        chunked!.push(bytes, (b) => views.push(b));
        go = deliver(views, from);
      } else {
        go = deliver([bytes], from);
      }
      if (go && bodyComplete()) {
        finish();
        return false;
      }
      return go;
    };

    const onread = {
      // A function: net asks it for the buffer of each next read.
      buffer: nextReadBuffer,
      callback: (nread: number, buf: Buffer): boolean => {
        if (settled) return false;
        try {
          return onBytes(buf.subarray(0, nread), buf);
        } catch (e) {
          finish(e);
          return false;
        }
      },
    };
    const socket: Socket =
      url.protocol === "https:"
        ? // tls.connect takes `onread` as net.connect does (documented), though @types/node does not list it.
          tlsConnect!({ host, port, ...(isIP(host) ? {} : { servername: host }), secureContext: options.secureContext, onread, ALPNProtocols: ["http/1.1"] } as ConnectionOptions)
        : netConnect({ host, port, onread });
    socket.setNoDelay(true);
    socket.setTimeout(options.idleMs, () => finish(new Error(`registry ${url.host} sent nothing for ${options.idleMs / 1000}s (GET ${url.pathname})`)));
    socket.on("error", (e) => finish(e));
    socket.on("end", () => {
      ended = true;
      if (result && body?.kind === "close" && !busy && queue.length === 0) finish();
    });
    socket.on("close", () => {
      // The handle is closed: nothing reads into its buffers any more; one the consumer still reads goes back when it is done.
      closed = true;
      for (const b of [readBuffer, ...free.splice(0)]) if (!viewsIn.has(b)) spareReadBuffers.push(b);
      // What was read and is still being consumed (a TLS socket reads on while paused) decides once the consumer is done with it.
      if (!settled && !busy && queue.length === 0) finish(cutShort());
    });
    options.onStart?.((error) => finish(error));
    const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, "Connection: close", "Accept-Encoding: identity"];
    for (const [k, v] of Object.entries(options.headers)) lines.push(`${k}: ${v}`);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  });
}

/** Where the head ends ("\r\n\r\n") counted from the start of the head, or -1; `head` holds what came before `bytes`. */
function findHeadEnd(head: Buffer[], bytes: Buffer): number {
  const before = head.reduce((n, b) => n + b.length, 0);
  // The terminator may straddle the earlier pieces and this one: look at the last 3 bytes before too.
  const tail = Buffer.concat([...head]).subarray(Math.max(0, before - 3));
  const joined = Buffer.concat([tail, bytes]);
  const at = joined.indexOf("\r\n\r\n", 0, "latin1");
  if (at === -1) return -1;
  return before - tail.length + at + 4;
}
