// Push and pull against a real registry (docker-registry on 127.0.0.1, plain
// HTTP), checked with skopeo, an independent client.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullImage, pushImage } from "../../../src/image/registry/index.js";
import { ImageStore } from "../../../src/image/store/index.js";
import { busyboxEntries, importBusyboxImage, makeTar } from "../../helpers/busybox-image.js";
import type { HostSnapshot } from "../../helpers/leaks.js";
import { assertNoOwnLeaks, snapshotOwn } from "./own-leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { addLayeredImage } from "./images.js";
import { startRegistry, type RunningRegistry } from "./registry-server.js";

let dir: string;
let registry: RunningRegistry;
let before: HostSnapshot;

const skopeo = (args: string[]) => execFileSync("skopeo", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

describe.skipIf(skipUnlessRoot("registry tests"))("pull and push against docker-registry", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "stack-registry-"));
    before = snapshotOwn(dir);
    registry = await startRegistry(join(dir, "registry"));
  });
  afterAll(async () => {
    await registry?.stop();
    assertNoOwnLeaks(before, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("pushes busybox, skopeo reads and copies it, and a fresh state dir pulls and runs it", async () => {
    const stateA = join(dir, "a");
    await importBusyboxImage(stateA, "stack-test/busybox:1");
    const storeA = new ImageStore(stateA);
    const local = await storeA.get("stack-test/busybox:1");
    const ref = `${registry.host}/stack-test/busybox:1`;
    const pushed = await pushImage({ stateDir: stateA, ref: "stack-test/busybox:1", target: ref });
    expect(pushed.digest).toBe(local.digest);
    expect(pushed.uploaded).toBe(2); // config + one layer
    const again = await pushImage({ stateDir: stateA, ref: "stack-test/busybox:1", target: ref });
    expect(again).toMatchObject({ uploaded: 0, existing: 2, mounted: 0 });

    const inspected = JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${ref}`])) as { Digest: string; Architecture: string; Os: string };
    expect(inspected).toMatchObject({ Digest: local.digest, Architecture: "amd64", Os: "linux" });
    skopeo(["copy", "--src-tls-verify=false", `docker://${ref}`, `oci:${join(dir, "skopeo-oci")}:copied`]);
    expect(readdirSync(join(dir, "skopeo-oci", "blobs", "sha256"))).toContain(local.id.slice(7));

    const stateB = join(dir, "b");
    const events: string[] = [];
    const pulled = await pullImage({ stateDir: stateB, ref, onProgress: (e) => events.push(e.status) });
    expect(pulled).toMatchObject({ ref: `${registry.host}/stack-test/busybox:1`, id: local.id, digest: local.digest, platform: "linux/amd64", downloaded: 1, reused: 0 });
    expect(events).toContain("downloading");
    expect(events.at(-1)).toBe("done");
    const { lowerdirs, config } = await new ImageStore(stateB).rootfsOf(ref);
    expect(config.Cmd).toEqual(["sh"]);
    expect(execFileSync("chroot", [lowerdirs[0]!, "/bin/sh", "-c", "echo hello from $(cat /etc/hostname)"], { encoding: "utf8" })).toBe("hello from busybox\n");

    const repull = await pullImage({ stateDir: stateB, ref });
    expect(repull).toMatchObject({ id: local.id, downloaded: 0, reused: 1 });

    // The blob stays but its layer folder is gone: the next pull unpacks it from the stored file.
    const storeB = new ImageStore(stateB);
    await storeB.layers.remove((await storeB.get(ref)).image.rootfs.diff_ids[0]!);
    expect(existsSync(lowerdirs[0]!)).toBe(false);
    const restored = await pullImage({ stateDir: stateB, ref, onProgress: (e) => events.push(`again ${e.status}`) });
    expect(restored).toMatchObject({ downloaded: 0, reused: 1 });
    expect(events).toContain("again extracting");
    expect(execFileSync("chroot", [lowerdirs[0]!, "/bin/sh", "-c", "echo unpacked again"], { encoding: "utf8" })).toBe("unpacked again\n");
  });

  it("mounts blobs from another repository of the same registry instead of uploading them", async () => {
    const state = join(dir, "mount");
    await importBusyboxImage(state, `${registry.host}/team/one:v1`);
    await pushImage({ stateDir: state, ref: `${registry.host}/team/one:v1` });
    await new ImageStore(state).tag(`${registry.host}/team/one:v1`, `${registry.host}/team/two:v1`);
    const second = await pushImage({ stateDir: state, ref: `${registry.host}/team/two:v1` });
    expect(second).toMatchObject({ uploaded: 0, mounted: 2, existing: 0 });
    skopeo(["inspect", "--tls-verify=false", `docker://${registry.host}/team/two:v1`]);
  });

  it("uploads in chunks, and pulls gzip, zstd and plain layers with whiteouts turned into overlay whiteouts", async () => {
    const state = join(dir, "layers");
    const store = new ImageStore(state);
    const base = await makeTar([...busyboxEntries(), { name: "etc/gone", content: "x" }, { name: "opt/", type: "directory" }, { name: "opt/x/", type: "directory" }, { name: "opt/x/old", content: "old" }]);
    const middle = await makeTar([{ name: "etc/.wh.gone", content: "" }, { name: "opt/x/", type: "directory" }, { name: "opt/x/.wh..wh..opq", content: "" }, { name: "opt/x/new", content: "new" }]);
    const top = await makeTar([{ name: "srv/", type: "directory" }, { name: "srv/big", content: Buffer.alloc(300_000, 7) }]);
    const made = await addLayeredImage(store, "local/layers:1", [
      { tar: base, compression: "gzip" },
      { tar: middle, compression: "zstd" },
      { tar: top, compression: "none" },
    ]);
    const ref = `${registry.host}/team/layers:1`;
    const pushed = await pushImage({ stateDir: state, ref: "local/layers:1", target: ref, chunkSize: 64 * 1024 });
    expect(pushed).toMatchObject({ digest: made.digest, uploaded: 4 });
    const inspected = JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${ref}`])) as { Digest: string; Layers: string[] };
    expect(inspected.Digest).toBe(made.digest);
    expect(inspected.Layers).toHaveLength(3);

    const fresh = join(dir, "layers-pulled");
    const pulled = await pullImage({ stateDir: fresh, ref });
    expect(pulled).toMatchObject({ id: made.id, downloaded: 3 });
    const [topDir, middleDir] = await new ImageStore(fresh).layerDirs(await new ImageStore(fresh).get(ref));
    const gone = lstatSync(join(middleDir!, "etc", "gone"));
    expect(gone.isCharacterDevice() && gone.rdev === 0).toBe(true);
    expect(execFileSync("getfattr", ["--absolute-names", "--only-values", "-n", "trusted.overlay.opaque", join(middleDir!, "opt", "x")], { encoding: "utf8" })).toBe("y");
    expect(lstatSync(join(topDir!, "srv", "big")).size).toBe(300_000);
    expect(existsSync(join(fresh, "images", "ingest")) ? readdirSync(join(fresh, "images", "ingest")) : []).toEqual([]);
  });

  it("picks the platform's image from a multi-arch index, honours platform, and names what an index offers", async () => {
    const state = join(dir, "multi");
    const store = new ImageStore(state);
    const amd = await addLayeredImage(store, "local/multi:amd64", [{ tar: await makeTar(busyboxEntries()), compression: "gzip" }]);
    const arm = await addLayeredImage(store, "local/multi:arm64", [{ tar: await makeTar([{ name: "arch", content: "arm64" }]), compression: "gzip" }], { architecture: "arm64", variant: "v8" });
    const repo = `${registry.host}/team/multi`;
    await pushImage({ stateDir: state, ref: "local/multi:amd64", target: `${repo}@${amd.digest}` });
    await pushImage({ stateDir: state, ref: "local/multi:arm64", target: `${repo}@${arm.digest}` });
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: arm.digest, size: arm.manifest.length, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: amd.digest, size: amd.manifest.length, platform: { os: "linux", architecture: "amd64" } },
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: amd.digest, size: amd.manifest.length, platform: { os: "unknown", architecture: "unknown" } },
      ],
    };
    const put = await fetch(`http://${repo.replace(registry.host, registry.host + "/v2")}/manifests/latest`, { method: "PUT", headers: { "content-type": index.mediaType }, body: JSON.stringify(index) });
    expect(put.status).toBe(201);
    const indexDigest = put.headers.get("docker-content-digest");

    const fresh = join(dir, "multi-pulled");
    const byDefault = await pullImage({ stateDir: fresh, ref: repo });
    expect(byDefault).toMatchObject({ id: amd.id, manifestDigest: amd.digest, digest: indexDigest, platform: "linux/amd64" });
    const forArm = await pullImage({ stateDir: join(dir, "multi-arm"), ref: `${repo}:latest`, platform: "linux/arm64" });
    expect(forArm).toMatchObject({ id: arm.id, platform: "linux/arm64/v8" });
    await expect(pullImage({ stateDir: join(dir, "multi-s390x"), ref: repo, platform: "linux/s390x" })).rejects.toThrow(/has no image for platform linux\/s390x[\s\S]*/);
    await expect(pullImage({ stateDir: join(dir, "multi-s390x"), ref: repo, platform: "linux/s390x" })).rejects.toMatchObject({ hint: expect.stringContaining("linux/amd64, linux/arm64/v8") });
    // A single-platform image asked for another platform is refused.
    await expect(pullImage({ stateDir: join(dir, "multi-s390x"), ref: `${repo}@${amd.digest}`, platform: "linux/arm64" })).rejects.toThrow(/is for linux\/amd64, not linux\/arm64/);
  });

  it("refuses a corrupted blob and stores nothing of it", async () => {
    const state = join(dir, "corrupt");
    const store = new ImageStore(state);
    const made = await addLayeredImage(store, "local/corrupt:1", [{ tar: await makeTar([{ name: "data", content: Buffer.alloc(100_000, 1) }]), compression: "none" }]);
    const ref = `${registry.host}/team/corrupt:1`;
    await pushImage({ stateDir: state, ref: "local/corrupt:1", target: ref });
    const layer = store.blobPath(JSON.parse(made.manifest.toString()).layers[0].digest);
    const hex = layer.split("/").at(-1)!;
    const data = join(registry.storage, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
    const bytes = readFileSync(data);
    bytes[50_000] ^= 0xff;
    writeFileSync(data, bytes);

    const fresh = join(dir, "corrupt-pulled");
    const failure = pullImage({ stateDir: fresh, ref });
    await expect(failure).rejects.toThrow(/blob sha256:[0-9a-f]{64} of .*team\/corrupt:1 from 127\.0\.0\.1:\d+ is corrupt: blob content does not match its digest/);
    const freshStore = new ImageStore(fresh);
    expect(await freshStore.hasBlob(`sha256:${hex}`)).toBe(false);
    expect(await freshStore.list()).toEqual([]);
    expect(readdirSync(join(fresh, "images", "ingest"))).toEqual([]);
    expect(existsSync(join(fresh, "layers")) ? readdirSync(join(fresh, "layers")) : []).toEqual([]);
  });

  it("unpacks while downloading, and keeps no layer from a hostile tar or from a tar unlike its diff_id", async () => {
    const state = join(dir, "streamed");
    const store = new ImageStore(state);
    const bulk = randomBytes(2_000_000);
    const good = await makeTar([{ name: "etc/", type: "directory" }, { name: "etc/big", content: bulk }, { name: "etc/hard", type: "link", linkname: "etc/big" }]);
    await addLayeredImage(store, "local/streamed:1", [{ tar: good, compression: "gzip" }]);
    const hostile = await makeTar([{ name: "ok", content: randomBytes(1_500_000) }, { name: "../escaped", content: "out" }]);
    await addLayeredImage(store, "local/hostile:1", [{ tar: hostile, compression: "gzip" }]);
    const other = await makeTar([{ name: "other", content: "x" }]);
    const lying = await makeTar([{ name: "lying", content: randomBytes(1_200_000) }]);
    const otherDiffId = `sha256:${execFileSync("sha256sum", { input: other }).toString().split(" ")[0]}`;
    await addLayeredImage(store, "local/lying:1", [{ tar: lying, compression: "none" }], { diffIds: [otherDiffId] });
    for (const name of ["streamed", "hostile", "lying"]) await pushImage({ stateDir: state, ref: `local/${name}:1`, target: `${registry.host}/team/${name}:1` });

    const fresh = join(dir, "streamed-pulled");
    const freshStore = new ImageStore(fresh);
    const pulled = await pullImage({ stateDir: fresh, ref: `${registry.host}/team/streamed:1` });
    const [layer] = (await freshStore.rootfsOf(pulled.ref)).lowerdirs;
    expect(readFileSync(join(layer!, "etc/big")).equals(bulk)).toBe(true);
    expect(lstatSync(join(layer!, "etc/hard")).nlink).toBe(2);
    const layersBefore = readdirSync(join(fresh, "layers")).sort();

    await expect(pullImage({ stateDir: fresh, ref: `${registry.host}/team/hostile:1` })).rejects.toThrow(/refusing archive entry "\.\.\/escaped"/);
    await expect(pullImage({ stateDir: fresh, ref: `${registry.host}/team/lying:1` })).rejects.toThrow(/layer 1\/1 .* unpacks to sha256:[0-9a-f]{64}, but the image config says sha256:[0-9a-f]{64}/);
    expect(readdirSync(join(fresh, "layers")).sort()).toEqual(layersBefore);
    expect(existsSync(join(fresh, "escaped"))).toBe(false);
    expect(readdirSync(join(fresh, "images", "ingest"))).toEqual([]);
    expect((await freshStore.list()).map((i) => i.names)).toEqual([[pulled.ref]]);
  });

  it("pulls the same image byte for byte past the page cache and through it, a layer that inflates in bursts included", async () => {
    const state = join(dir, "policies");
    const store = new ImageStore(state);
    const text = Buffer.from("a log line that compresses very well, again and again\n".repeat(400_000));
    const entries = [
      { name: "srv/", type: "directory" as const, mode: 0o750, mtime: new Date("2022-02-02T02:02:02Z") },
      { name: "srv/log.txt", content: text, mode: 0o640, uid: 12, gid: 34, mtime: new Date("2022-02-02T02:02:02Z") },
      { name: "srv/blob", content: randomBytes(3_000_001), mode: 0o755 },
      ...Array.from({ length: 12 }, (_, i) => ({ name: `srv/part-${i}`, content: randomBytes(70_000 + i * 9_999) })),
      { name: "srv/small", content: "s" },
    ];
    const made = await addLayeredImage(store, "local/policies:1", [
      { tar: await makeTar(entries), compression: "gzip" },
      { tar: await makeTar([{ name: "plain", content: randomBytes(1_000_000) }]), compression: "none" },
    ]);
    await pushImage({ stateDir: state, ref: "local/policies:1", target: `${registry.host}/team/policies:1` });
    const listing = (root: string) =>
      execFileSync("sh", ["-c", "find . -mindepth 1 -printf '%p %y %m %U %G %s %T@\\n' | sort && find . -type f -exec sha256sum {} + | sort"], { cwd: root, encoding: "utf8" });
    const trees: string[] = [];
    for (const direct of [true, false]) {
      const fresh = join(dir, `policies-${direct}`);
      const freshStore = new ImageStore(fresh, { writeDirect: () => direct });
      const pulled = await pullImage({ stateDir: fresh, ref: `${registry.host}/team/policies:1`, store: freshStore });
      expect(pulled.id).toBe(made.id);
      const { lowerdirs } = await freshStore.rootfsOf(pulled.ref);
      trees.push(lowerdirs.map(listing).join("\n"));
      for (const d of JSON.parse(made.manifest.toString()).layers as Array<{ digest: string }>) {
        expect(readFileSync(freshStore.blobPath(d.digest)).equals(readFileSync(store.blobPath(d.digest)))).toBe(true);
      }
    }
    expect(trees[0]).toContain("./srv/log.txt f 640 12 34 " + text.length);
    expect(trees[0]).toBe(trees[1]);
  });

  it.each([
    { how: "past the page cache", direct: true },
    { how: "through the page cache", direct: false },
  ])("leaves nothing half-written when the connection dies mid-layer, and the retry completes ($how)", async ({ direct }) => {
    const state = join(dir, `cut-${direct}`);
    const store = new ImageStore(state);
    const small = await makeTar([{ name: "small", content: "s" }]);
    const big = await makeTar([{ name: "big", content: randomBytes(3_000_000) }]);
    const made = await addLayeredImage(store, "local/cut:1", [{ tar: small, compression: "none" }, { tar: big, compression: "gzip" }]);
    await pushImage({ stateDir: state, ref: "local/cut:1", target: `${registry.host}/team/cut:1` });
    const bigDigest = JSON.parse(made.manifest.toString()).layers[1].digest as string;

    // A proxy that forwards to the registry but, the first time, drops the big layer's connection after 1 MB.
    let cut = true;
    const proxy = createHttpServer((req, res) => {
      const upstream = httpRequest({ host: "127.0.0.1", port: Number(registry.host.split(":")[1]), path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (cut && req.url?.includes(bigDigest)) {
          let sent = 0;
          up.on("data", (c: Buffer) => {
            if (sent > 1_000_000) return;
            sent += c.length;
            res.write(c);
            if (sent > 1_000_000) res.socket?.destroy();
          });
        } else {
          up.pipe(res);
        }
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
    const proxyHost = `127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const fresh = join(dir, `cut-pulled-${direct}`);
      const freshStore = new ImageStore(fresh, { writeDirect: () => direct });
      await expect(pullImage({ stateDir: fresh, ref: `${proxyHost}/team/cut:1`, store: freshStore })).rejects.toThrow(/blob sha256:[0-9a-f]{64} of .*team\/cut:1 .*(cut short|failed after)/);
      expect(await freshStore.hasBlob(bigDigest)).toBe(false);
      expect(await freshStore.list()).toEqual([]);
      expect(readdirSync(join(fresh, "images", "ingest"))).toEqual([]);
      expect(readdirSync(join(fresh, "layers")).filter((n) => n.startsWith("."))).toEqual([]);
      // The small layer may or may not have been stored before the big one failed (the two race); the retry fetches exactly what is missing.
      const layerDigests = (JSON.parse(made.manifest.toString()).layers as Array<{ digest: string }>).map((l) => l.digest);
      const missing = (await Promise.all(layerDigests.map((d) => freshStore.hasBlob(d)))).filter((has) => !has).length;
      expect(missing).toBeGreaterThanOrEqual(1);
      cut = false;
      const retry = await pullImage({ stateDir: fresh, ref: `${proxyHost}/team/cut:1`, store: freshStore });
      expect(retry).toMatchObject({ id: made.id, downloaded: missing, reused: 2 - missing });
      expect(await freshStore.hasBlob(bigDigest)).toBe(true);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });
});
