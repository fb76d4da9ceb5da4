// Layer blobs come plain, gzip- or zstd-compressed; the first bytes tell
// which. gzip goes through node:zlib. Node 20's zlib has no zstd, so zstd goes
// through the `zstd` binary (Debian package zstd, see scripts/setup-host.sh):
// the reference implementation, streaming and fast, instead of a WASM or
// native npm port that would need its own build.
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createRequire } from "node:module";
import { PassThrough, type Readable } from "node:stream";
import { InvalidInputError, SystemError, UnsupportedError } from "../../errors.js";

// node:zlib is loaded by the first gzip stream: the store imports this module, and a command that
// only reads the store (a fully cached `stack build`) would otherwise pay zlib's start-up (~7 M
// instructions, 2% of that command).
const requireBuiltin = createRequire(import.meta.url);
const zlib = (): typeof import("node:zlib") => requireBuiltin("node:zlib") as typeof import("node:zlib");

export type Compression = "gzip" | "zstd" | "none";

const MAGIC: Array<[number[], Compression | "xz" | "bzip2"]> = [
  [[0x1f, 0x8b], "gzip"],
  [[0x28, 0xb5, 0x2f, 0xfd], "zstd"],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], "xz"],
  [[0x42, 0x5a, 0x68], "bzip2"],
];

/** The compression of a stream from its first bytes (at least 6 for a sure answer). */
export function detectCompression(head: Uint8Array, what: string): Compression {
  for (const [magic, kind] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) {
      if (kind === "xz" || kind === "bzip2") {
        throw new UnsupportedError(`${what} is ${kind}-compressed, which image layers do not use`, {
          hint: `decompress it first (e.g. \`${kind === "xz" ? "xz" : "bzip2"} -dc FILE | stack image import - NAME\`) or recompress it with gzip or zstd`,
        });
      }
      return kind;
    }
  }
  return "none";
}

export async function detectFileCompression(path: string, what: string): Promise<Compression> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(6);
    const { bytesRead } = await fh.read(head, 0, 6, 0);
    return detectCompression(head.subarray(0, bytesRead), what);
  } finally {
    await fh.close();
  }
}

function corrupt(what: string, detail: string): InvalidInputError {
  return new InvalidInputError(`cannot decompress ${what}: ${detail}`, { hint: "the file is truncated or corrupt; fetch or export it again" });
}

/** The uncompressed bytes of a file; a corrupt or truncated input makes the stream fail with an InvalidInputError. */
export function openDecompressed(path: string, compression: Compression, what: string): Readable {
  return decompress(createReadStream(path), compression, what);
}

/**
 * The uncompressed bytes of a stream (`chunkSize`: gzip's output pieces,
 * zlib's 16 KiB by default); closing the result stops the input.
 */
export function decompress(raw: Readable, compression: Compression, what: string, chunkSize?: number): Readable {
  if (compression === "none") return raw;
  const out = new PassThrough(chunkSize ? { highWaterMark: chunkSize } : {});
  raw.on("error", (e) => out.destroy(e));
  out.on("close", () => raw.destroy());
  if (compression === "gzip") {
    const gunzip = zlib().createGunzip(chunkSize ? { chunkSize } : {});
    gunzip.on("error", (e) => out.destroy(corrupt(what, `gzip: ${e.message}`)));
    raw.pipe(gunzip).pipe(out);
    return out;
  }
  const child = spawn("zstd", ["-dcq"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.on("error", (e) =>
    out.destroy(new SystemError(`cannot run zstd to decompress ${what}: ${e.message}`, { hint: "install the zstd package (scripts/setup-host.sh)", cause: e })),
  );
  child.stdin.on("error", () => undefined); // zstd exiting early surfaces through its exit code
  raw.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  let stdoutEnded = false;
  let exitCode: number | null | undefined;
  const finish = () => {
    if (!stdoutEnded || exitCode === undefined) return;
    if (exitCode === 0) out.end();
    else out.destroy(corrupt(what, `zstd: ${stderr.trim() || `exit code ${exitCode}`}`));
  };
  child.stdout.on("end", () => {
    stdoutEnded = true;
    finish();
  });
  child.on("close", (code) => {
    exitCode = code;
    finish();
  });
  out.on("close", () => {
    if (exitCode === undefined) child.kill("SIGKILL");
  });
  return out;
}
