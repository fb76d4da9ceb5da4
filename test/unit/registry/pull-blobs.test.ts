// How a pull fetches blobs, against a fake registry on 127.0.0.1 (node:http):
// the lean GET takes a 200 straight into the store; a redirect to blob
// storage and a 401 asking for a wider token go through request() again; a
// body longer than its descriptor, a 404 and a body cut short fail clearly
// and store nothing.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pullImage } from "../../../src/image/registry/index.js";
import { ImageStore } from "../../../src/image/store/index.js";

const servers: Server[] = [];
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-pull-blobs-"));
});
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  rmSync(dir, { recursive: true, force: true });
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return `127.0.0.1:${(s.address() as { port: number }).port}`;
}

const digestOf = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const layerA = Buffer.alloc(300_000, "a");
const layerB = Buffer.alloc(5_000, "b");
/** An OCI image of plain tar layers: its config and manifest bytes. */
function imageOf(layers: Buffer[]): { config: Buffer; manifest: Buffer } {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: layers.map(digestOf) } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: digestOf(l), size: l.length })),
    }),
  );
  return { config, manifest };
}
const { config, manifest } = imageOf([layerA, layerB]);

/** A registry with Basic auth whose layer B is served by `blobB` (given the request), and the config by `configBlob`. */
async function registry(blobB: (req: IncomingMessage, res: ServerResponse) => void, seen: string[], configBlob: (res: ServerResponse) => unknown = (res) => res.end(config)): Promise<string> {
  return serve((req, res) => {
    seen.push(`${req.url} ${req.headers.authorization ? "auth" : "-"}`);
    if (req.url === "/v2/") return void res.writeHead(401, { "www-authenticate": 'Basic realm="r"' }).end();
    if (!req.headers.authorization) return void res.writeHead(401).end();
    if (req.url?.includes("/manifests/")) return void res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "docker-content-digest": digestOf(manifest) }).end(manifest);
    if (req.url?.endsWith(digestOf(config))) return void configBlob(res);
    if (req.url?.endsWith(digestOf(layerA))) return void res.end(layerA);
    if (req.url?.endsWith(digestOf(layerB))) return blobB(req, res);
    res.writeHead(404).end();
  });
}

describe("pull: blob transfers", () => {
  it("takes 200s on the lean GET and follows a redirect to storage through request(), without credentials there", async () => {
    let storageAuth: string | undefined = "unset";
    const storage = await serve((req, res) => {
      storageAuth = req.headers.authorization;
      res.end(layerB);
    });
    const seen: string[] = [];
    const host = await registry((_req, res) => void res.writeHead(307, { location: `http://${storage}/bucket/b?sig=1` }).end(), seen);
    const state = join(dir, "ok");
    const pulled = await pullImage({ stateDir: state, ref: `${host}/team/app:1`, credentials: { username: "u", password: "p" }, unpack: false });
    expect(pulled).toMatchObject({ downloaded: 2, reused: 0 });
    const store = new ImageStore(state);
    for (const b of [config, layerA, layerB]) expect(await store.hasBlob(digestOf(b))).toBe(true);
    expect(storageAuth).toBeUndefined();
    // Layer B was asked twice: the lean GET (answered 307), then request(), which followed the redirect.
    expect(seen.filter((s) => s.includes(digestOf(layerB)))).toEqual([`/v2/team/app/blobs/${digestOf(layerB)} auth`, `/v2/team/app/blobs/${digestOf(layerB)} auth`]);
  });

  it.each([
    { name: "a body longer than its descriptor", blob: (res: ServerResponse) => res.end(Buffer.concat([layerB, Buffer.from("more")])), error: /blob sha256:[0-9a-f]{64} of .*team\/app:1 from 127\.0\.0\.1:\d+ is corrupt: the registry sent more than its 5000 bytes/ },
    { name: "a body cut short", blob: (res: ServerResponse) => (res.writeHead(200, { "content-length": "5000" }), res.write(layerB.subarray(0, 1000)), setTimeout(() => res.socket?.destroy(), 20)), error: /download of blob sha256:[0-9a-f]{64} of .*team\/app:1 from 127\.0\.0\.1:\d+ failed after 1000 of 5000 bytes: the connection closed after 1000 bytes of the body/ },
    { name: "a body that ends early", blob: (res: ServerResponse) => res.end(layerB.subarray(0, 4000)), error: /download of blob sha256:[0-9a-f]{64} of .*team\/app:1 was cut short after 4000 of 5000 bytes/ },
    { name: "a missing blob", blob: (res: ServerResponse) => void res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}'), error: /fetching blob sha256:[0-9a-f]{64} of .*team\/app:1: the registry answered 404 \(.*blob unknown to registry/ },
  ])("fails on $name and keeps nothing of it", async ({ blob, error }) => {
    const host = await registry((_req, res) => blob(res), []);
    const state = join(dir, "bad");
    await expect(pullImage({ stateDir: state, ref: `${host}/team/app:1`, credentials: { username: "u", password: "p" }, unpack: false })).rejects.toThrow(error);
    const store = new ImageStore(state);
    expect(await store.hasBlob(digestOf(layerB))).toBe(false);
    expect(await store.list()).toEqual([]);
    const ingest = join(state, "images", "ingest");
    expect(existsSync(ingest) ? readdirSync(ingest) : []).toEqual([]);
  });

  // The config is read into memory and checked there (the layers start meanwhile); it is stored only once the pull is whole.
  it.each([
    { name: "a config unlike its digest", blob: (res: ServerResponse) => res.end(Buffer.from(config.toString().replace("amd64", "arm64"))), error: /blob sha256:[0-9a-f]{64} of .*team\/app:1 from 127\.0\.0\.1:\d+ is corrupt: blob content does not match its digest/ },
    { name: "a config longer than its descriptor", blob: (res: ServerResponse) => res.end(Buffer.concat([config, Buffer.from(" ")])), error: /blob sha256:[0-9a-f]{64} of .*team\/app:1 from 127\.0\.0\.1:\d+ is corrupt: the registry sent more than its \d+ bytes/ },
    { name: "a config that ends early", blob: (res: ServerResponse) => res.end(config.subarray(0, 20)), error: /download of blob sha256:[0-9a-f]{64} of .*team\/app:1 was cut short after 20 of \d+ bytes/ },
    { name: "a missing config", blob: (res: ServerResponse) => void res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}'), error: /fetching blob sha256:[0-9a-f]{64} of .*team\/app:1: the registry answered 404 \(.*blob unknown to registry/ },
  ])("fails on $name and keeps nothing of it", async ({ blob, error }) => {
    const host = await registry((_req, res) => void res.end(layerB), [], blob);
    const state = join(dir, "bad-config");
    await expect(pullImage({ stateDir: state, ref: `${host}/team/app:1`, credentials: { username: "u", password: "p" } })).rejects.toThrow(error);
    const store = new ImageStore(state);
    expect(await store.hasBlob(digestOf(config))).toBe(false);
    expect(await store.list()).toEqual([]);
    const ingest = join(state, "images", "ingest");
    expect(existsSync(ingest) ? readdirSync(ingest) : []).toEqual([]);
  });

  it("stores the config it read, unchanged, beside the layers, and reuses a stored one without asking again", async () => {
    const seen: string[] = [];
    const host = await registry((_req, res) => void res.end(layerB), seen);
    const state = join(dir, "config");
    await pullImage({ stateDir: state, ref: `${host}/team/app:1`, credentials: { username: "u", password: "p" }, unpack: false });
    const store = new ImageStore(state);
    expect((await store.readBlob(digestOf(config))).equals(config)).toBe(true);
    const asked = () => seen.filter((l) => l.includes(digestOf(config))).length;
    expect(asked()).toBe(1);
    await pullImage({ stateDir: state, ref: `${host}/team/app:1`, credentials: { username: "u", password: "p" }, unpack: false });
    expect(asked()).toBe(1);
  });

  it("asks for the next layer while the last 4 MiB of one are still coming, even one at a time", async () => {
    const big = randomBytes(6 * 1024 * 1024);
    const small = Buffer.from("small layer");
    const { config: cfg, manifest: m } = imageOf([big, small]);
    const events: string[] = [];
    let smallAsked: () => void = () => undefined;
    const asked = new Promise<void>((r) => (smallAsked = r));
    const host = await serve((req, res) => {
      if (req.url === "/v2/") return void res.end("{}");
      if (req.url?.includes("/manifests/")) return void res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "docker-content-digest": digestOf(m) }).end(m);
      if (req.url?.endsWith(digestOf(cfg))) return void res.end(cfg);
      if (req.url?.endsWith(digestOf(small))) {
        events.push("small asked");
        smallAsked();
        return void res.end(small);
      }
      if (req.url?.endsWith(digestOf(big))) {
        res.writeHead(200, { "content-length": String(big.length) });
        res.write(big.subarray(0, 3 * 1024 * 1024));
        // The rest only once the next layer was asked for (or after 3 s, and then the test fails).
        void Promise.race([asked, new Promise((r) => setTimeout(r, 3000))]).then(() => {
          events.push("big ends");
          res.end(big.subarray(3 * 1024 * 1024));
        });
        return;
      }
      res.writeHead(404).end();
    });
    const pulled = await pullImage({ stateDir: join(dir, "early"), ref: `${host}/team/app:1`, concurrency: 1, unpack: false });
    expect(pulled).toMatchObject({ downloaded: 2 });
    expect(events).toEqual(["small asked", "big ends"]);
  });
});
