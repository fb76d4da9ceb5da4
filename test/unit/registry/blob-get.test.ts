// The lean blob GET against raw servers on 127.0.0.1 that write their answers
// byte-exactly, in odd slices: Content-Length, chunked and close-delimited
// bodies, error answers, a consumer that pauses, connections cut short and
// malformed answers. The consumer copies each view it is given and the test
// compares: the read buffer is reused, so a view kept too long would differ.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext, createServer as createTlsServer } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { makeTestCa } from "../../integration/registry/registry-server.js";
import { ChunkedDecoder, blobGet, parseHead } from "../../../src/image/registry/blob-get.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A server that answers every connection with `answer` (after reading the request head), written in slices. */
async function serve(answer: (socket: Socket, request: string) => void): Promise<URL> {
  const server = createServer((socket) => {
    let request = "";
    socket.on("data", (d) => {
      request += d.toString("latin1");
      if (request.includes("\r\n\r\n")) answer(socket, request);
    });
    socket.on("error", () => undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/v2/x/blobs/sha256:abc?q=1`);
}

async function writeSlowly(socket: Socket, bytes: Buffer, slice: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += slice) {
    if (!socket.write(bytes.subarray(at, at + slice))) await new Promise((r) => socket.once("drain", r));
  }
}

function collect(): { onBody: (b: Buffer) => void; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return { onBody: (b) => void parts.push(Buffer.from(b)), bytes: () => Buffer.concat(parts) };
}

const payload = randomBytes(3 * 1024 * 1024 + 17);

function chunkedOf(body: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  let k = 0;
  while (at < body.length) {
    const n = Math.min(sizes[k++ % sizes.length]!, body.length - at);
    parts.push(Buffer.from(`${n.toString(16)}${k % 2 ? ";ext=1" : ""}\r\n`), body.subarray(at, at + n), Buffer.from("\r\n"));
    at += n;
  }
  parts.push(Buffer.from("0\r\nX-Trailer: t\r\n\r\n"));
  return Buffer.concat(parts);
}

describe("blobGet", () => {
  it("reads a Content-Length body through the reused buffer, sending the request's headers", async () => {
    let seen = "";
    const url = await serve((socket, request) => {
      seen = request;
      void writeSlowly(socket, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${payload.length}\r\nX-A: b\r\n\r\n`), payload]), 70_001);
    });
    const sink = collect();
    const r = await blobGet(url, { headers: { Authorization: "Bearer t" }, idleMs: 10_000, onBody: sink.onBody });
    expect(r).toMatchObject({ status: 200, received: payload.length, headers: { "content-length": String(payload.length), "x-a": "b" } });
    expect(sink.bytes().equals(payload)).toBe(true);
    expect(seen).toMatch(/^GET \/v2\/x\/blobs\/sha256:abc\?q=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nConnection: close\r\nAccept-Encoding: identity\r\nAuthorization: Bearer t\r\n\r\n$/);
  });

  it("reads a chunked body and a close-delimited one, with a consumer that pauses the socket", async () => {
    const chunked = await serve((socket) => {
      void writeSlowly(socket, Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), chunkedOf(payload, [1, 100_000, 3, 65_536, 7])]), 33_333);
    });
    const closing = await serve((socket) => {
      void writeSlowly(socket, Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\n\r\n"), payload]), 99_999).then(() => socket.end());
    });
    for (const url of [chunked, closing]) {
      const hash = createHash("sha256");
      let pauses = 0;
      const r = await blobGet(url, {
        headers: {},
        idleMs: 10_000,
        onBody: (b) => {
          hash.update(b);
          if (++pauses % 5 !== 0) return;
          return new Promise((resolve) => setTimeout(resolve, 2));
        },
      });
      expect(r.received).toBe(payload.length);
      expect(hash.digest("hex")).toBe(createHash("sha256").update(payload).digest("hex"));
    }
  });

  it("keeps every view intact until the consumer's promise settles, over TCP and TLS (which delivers after a pause, and may close before the consumer is done)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stack-blob-get-"));
    try {
      const ca = makeTestCa(dir);
      const answer = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${payload.length}\r\n\r\n`), payload]);
      const plain = await serve((socket) => void writeSlowly(socket, answer, 16_385));
      const tls = createTlsServer({ cert: readFileSync(ca.serverCert), key: readFileSync(ca.serverKey) }, (socket) => {
        socket.once("data", () => {
          // Small TLS records, many per socket read: the client decrypts several at once. Then the
          // server closes, as a registry does after a `Connection: close` answer, while the consumer still works.
          for (let at = 0; at < answer.length; at += 4000) socket.write(answer.subarray(at, at + 4000));
          socket.end();
        });
        socket.on("error", () => undefined);
      });
      servers.push(tls as unknown as Server);
      await new Promise<void>((r) => tls.listen(0, "127.0.0.1", () => r()));
      const secure = new URL(`https://127.0.0.1:${(tls.address() as { port: number }).port}/v2/x/blobs/sha256:abc`);
      const secureContext = createSecureContext({ ca: readFileSync(ca.caCert) });
      for (const url of [plain, secure]) {
        // Reads each view only later, as a write or an inflate on the threadpool does.
        const hash = createHash("sha256");
        const r = await blobGet(url, { headers: {}, idleMs: 10_000, secureContext, onBody: (b) => new Promise<void>((resolve) => setTimeout(() => (hash.update(b), resolve()), 1)) });
        expect(r.received).toBe(payload.length);
        expect(hash.digest("hex"), url.protocol).toBe(createHash("sha256").update(payload).digest("hex"));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("returns another status with its body unread by the consumer", async () => {
    const url = await serve((socket) => {
      socket.write('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="x"\r\nContent-Length: 20\r\n\r\n{"errors":["denied"]');
    });
    const sink = collect();
    const r = await blobGet(url, { headers: {}, idleMs: 10_000, onBody: sink.onBody });
    expect(r).toMatchObject({ status: 401, received: 0, headers: { "www-authenticate": 'Bearer realm="x"' } });
    expect(r.errorBody.toString()).toBe('{"errors":["denied"]');
    expect(sink.bytes().length).toBe(0);
  });

  it.each([
    { name: "a connection cut mid-body", answer: (s: Socket) => (s.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc"), setTimeout(() => s.destroy(), 20)), error: /the connection closed after 3 bytes of the body/ },
    { name: "a connection cut before the answer", answer: (s: Socket) => s.destroy(), error: /the connection closed before the answer/ },
    { name: "an invalid status line", answer: (s: Socket) => s.end("HTTP/2 200\r\n\r\n"), error: /invalid HTTP status line "HTTP\/2 200"/ },
    { name: "an invalid header line", answer: (s: Socket) => s.end("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), error: /invalid HTTP header line "no colon"/ },
    { name: "an invalid Content-Length", answer: (s: Socket) => s.end("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"), error: /invalid Content-Length "-5"/ },
    { name: "an invalid chunk size", answer: (s: Socket) => s.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), error: /invalid chunk size line "zz"/ },
    { name: "a head without end", answer: (s: Socket) => s.write(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(70_000)}`), error: /response head larger than 65536 bytes/ },
  ])("fails on $name", async ({ answer, error }) => {
    const url = await serve((socket) => answer(socket));
    await expect(blobGet(url, { headers: {}, idleMs: 10_000, onBody: () => undefined })).rejects.toThrow(error);
  });

  it("fails when the consumer fails, and when stopped from outside or idle", async () => {
    const url = await serve((socket) => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${"x".repeat(50)}`));
    await expect(blobGet(url, { headers: {}, idleMs: 10_000, onBody: () => { throw new Error("refused tar"); } })).rejects.toThrow("refused tar");
    await expect(blobGet(url, { headers: {}, idleMs: 10_000, onBody: () => Promise.reject(new Error("zstd died")) })).rejects.toThrow("zstd died");
    await expect(blobGet(url, { headers: {}, idleMs: 10_000, onBody: () => undefined, onStart: (stop) => setTimeout(() => stop(new Error("another layer failed")), 50) })).rejects.toThrow("another layer failed");
    await expect(blobGet(url, { headers: {}, idleMs: 200, onBody: () => undefined })).rejects.toThrow(/sent nothing for 0\.2s \(GET \/v2\/x\/blobs\/sha256:abc\)/);
  });
});

describe("ChunkedDecoder", () => {
  it("decodes at every cut and reports where the body ends", () => {
    const body = Buffer.from("hello chunked world, with more than one chunk");
    const encoded = Buffer.concat([chunkedOf(body, [5, 1, 12]), Buffer.from("EXTRA")]);
    for (let cut = 0; cut <= encoded.length; cut++) {
      const d = new ChunkedDecoder();
      const out: Buffer[] = [];
      const first = d.push(encoded.subarray(0, cut), (b) => out.push(Buffer.from(b)));
      const second = d.done ? 0 : d.push(encoded.subarray(cut), (b) => out.push(Buffer.from(b)));
      expect(d.done).toBe(true);
      expect(first + second).toBe(encoded.length - "EXTRA".length);
      expect(Buffer.concat(out).toString()).toBe(body.toString());
    }
  });

  it("refuses a chunk longer than announced", () => {
    expect(() => new ChunkedDecoder().push(Buffer.from("2\r\nabc\r\n"), () => undefined)).toThrow(/chunk longer than announced/);
  });
});

describe("parseHead", () => {
  it.each([
    { input: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Y:  z ", expected: { status: 200, headers: { "content-length": "5", "x-y": "z" } } },
    { input: "HTTP/1.0 307\r\nLocation: http://a/b", expected: { status: 307, headers: { location: "http://a/b" } } },
  ])("$input", ({ input, expected }) => {
    expect(parseHead(input)).toEqual(expected);
  });
});
