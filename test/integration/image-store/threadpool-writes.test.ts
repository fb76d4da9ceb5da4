// Writes on libuv's threadpool that fail: a layer's file content written
// from held buffers, and a blob's ingest file written with writeLater(), on a
// 1 MiB tmpfs that fills up (ENOSPC). The failure must surface as the
// store's error — at the next piece, entry or finish() for a layer, at
// commit() for a blob — nothing may be committed, and once abort() returns
// no write is running and no descriptor of the folder is left open.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ContentStore } from "../../../src/image/store/content-store.js";
import { LayerExtractor } from "../../../src/image/tar/extract-layer.js";
import { BufferPool } from "../../../src/image/tar/held-buffer.js";
import { systemSpecialFiles } from "../../../src/image/tar/special-files.js";
import { TarReader } from "../../../src/image/tar/tar-reader.js";
import { makeTar } from "../../helpers/busybox-image.js";
import { skipUnlessRoot } from "../../helpers/root.js";

let dir: string;
let small: string;
beforeEach(() => {
  if (process.getuid?.() !== 0) return;
  dir = mkdtempSync(join(tmpdir(), "stack-pool-writes-"));
  small = join(dir, "small");
  mkdirSync(small);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "stack-test-small", small]);
});
afterEach(() => {
  if (!dir) return;
  execFileSync("umount", [small]);
  rmSync(dir, { recursive: true, force: true });
});

/** Descriptors of this process open on something under `root`. */
function openUnder(root: string): string[] {
  const fds = `/proc/${process.pid}/fd`;
  return readdirSync(fds)
    .map((fd) => {
      try {
        return readlinkSync(join(fds, fd));
      } catch {
        return "";
      }
    })
    .filter((target) => target.startsWith(root));
}

describe.skipIf(skipUnlessRoot("threadpool write failure tests (they mount a tmpfs)"))("writes on the threadpool that fail", () => {
  it("a layer's file content: the unpack fails as the store's error, and abort leaves nothing open", async () => {
    const tar = await makeTar([
      { name: "big", content: Buffer.alloc(3 * 1024 * 1024, 7) },
      { name: "after", content: "x" },
    ]);
    const root = join(small, "layer");
    mkdirSync(root);
    const extractor = new LayerExtractor(root, systemSpecialFiles);
    const reader = new TarReader(extractor);
    const pool = new BufferPool(256 * 1024, 4);
    let failure: unknown;
    try {
      for (let at = 0; at < tar.length; at += pool.size) {
        const taken = pool.take();
        const b = taken instanceof Promise ? await taken : taken;
        const n = tar.copy(b.bytes, 0, at, at + pool.size);
        try {
          reader.push(b.bytes.subarray(0, n), b);
        } finally {
          b.release();
        }
      }
      reader.finish();
      await extractor.finish();
    } catch (e) {
      failure = e;
    }
    expect(failure).toMatchObject({ name: "SystemError", message: expect.stringMatching(/^cannot write the layer: ENOSPC/) });
    await extractor.abort();
    expect(pool.outstanding).toBe(0);
    expect(openUnder(root)).toEqual([]);
  });

  it("a blob's ingest file: commit refuses it, nothing is stored, and no descriptor is left open", async () => {
    const store = new ContentStore(join(small, "images"));
    const blob = await store.begin({});
    const piece = Buffer.alloc(256 * 1024, 3);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => blob.writeLater(piece)));
    expect(results.some((r) => r.status === "rejected" && /ENOSPC/.test(String(r.reason)))).toBe(true);
    await expect(blob.commit()).rejects.toThrow(/ENOSPC/);
    expect(readdirSync(store.blobsDir)).toEqual([]);
    expect(readdirSync(store.ingestDir)).toEqual([]);
    expect(openUnder(small)).toEqual([]);
  });
});
