// The image store for real, as root: imports, names, layer folders, whiteouts
// stacked by a real overlay mount, a 64-layer image, hostile archives,
// truncated input, removal with shared layers, concurrent imports.
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { ImageStore, MediaTypes, type ImageManifest, type ImageRecord, type OciImage } from "../../../src/image/store/index.js";
import { busyboxRootfsTar, importBusyboxImage, makeTar, type TarEntry } from "../../helpers/busybox-image.js";
import type { HostSnapshot } from "../../helpers/leaks.js";
// Scoped to this test's folder: concurrent tests of other layers make netns, links and cgroups.
import { assertNoOwnLeaks, snapshotOwn } from "../registry/own-leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";

let dir: string;
let store: ImageStore;
let before: HostSnapshot;
const mounted: string[] = [];

function mountOverlay(lowerdirs: string[], target: string): void {
  mkdirSync(target, { recursive: true });
  execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lowerdirs.join(":")}`, target]);
  mounted.push(target);
}

function unmount(target: string): void {
  execFileSync("umount", [target]);
  mounted.splice(mounted.indexOf(target), 1);
}

/** Writes layers (tar buffers, bottom first), a config and a manifest through the store's API, as the builder and puller do. */
async function addLayeredImage(layers: Buffer[], ref: string, config: OciImage["config"] = {}): Promise<ImageRecord> {
  const descriptors = [];
  const diffIds = [];
  for (const tar of layers) {
    const gz = gzipSync(tar);
    const blob = await store.writeBlob(Readable.from(gz));
    descriptors.push({ mediaType: MediaTypes.ociLayerGzip, digest: blob.digest, size: blob.size });
    diffIds.push(`sha256:${execFileSync("sha256sum", { input: tar }).toString().split(" ")[0]}`);
  }
  const image: OciImage = { architecture: "amd64", os: "linux", created: new Date().toISOString(), config, rootfs: { type: "layers", diff_ids: diffIds } };
  const cfg = await store.writeBlob(Buffer.from(JSON.stringify(image)));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: cfg.digest, size: cfg.size },
    layers: descriptors,
  };
  return store.addImage(manifest, [ref]);
}

function storeFiles(): { blobs: string[]; layers: string[]; ingest: string[] } {
  const list = (p: string) => (existsSync(p) ? readdirSync(p).sort() : []);
  return { blobs: list(join(dir, "images/blobs/sha256")), layers: list(join(dir, "layers")), ingest: list(join(dir, "images/ingest")) };
}

describe.skipIf(skipUnlessRoot("image store integration tests"))("image store", () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-image-"));
    store = new ImageStore(dir);
    before = snapshotOwn(dir);
  });

  afterEach(() => {
    for (const m of [...mounted].reverse()) unmount(m);
    assertNoOwnLeaks(before, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("imports a busybox rootfs, lists, resolves, inspects and removes it", async () => {
    const record = await store.importRootfs(Readable.from(await busyboxRootfsTar({ gzip: true })), "busybox:test", { changes: ['CMD ["sh"]', "ENV A=1"] });
    expect(record.names).toEqual(["docker.io/library/busybox:test"]);
    expect(record.manifest.layers[0]!.mediaType).toBe(MediaTypes.ociLayerGzip);
    expect(record.image.config).toEqual({ Cmd: ["sh"], Env: ["A=1"] });
    for (const ref of ["busybox:test", "docker.io/library/busybox:test", record.id, record.id.slice(7, 19), record.digest]) {
      expect((await store.resolve(ref))?.id, ref).toBe(record.id);
    }
    expect(await store.resolve("busybox:other")).toBeUndefined();
    expect((await store.list()).map((r) => r.id)).toEqual([record.id]);

    const [layer] = await store.layerDirs(record);
    expect(layer).toBe(join(dir, "layers", record.image.rootfs.diff_ids[0]!.slice(7, 19)));
    expect(statSync(join(layer!, "bin/busybox")).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(layer!, "bin/sh"))).toBe("busybox");
    expect(statSync(join(layer!, "tmp")).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(layer!, "home/app")).uid).toBe(1000);
    expect(statSync(join(layer!, "etc")).mtime.toISOString()).toBe("2024-01-02T03:04:05.000Z");
    expect(readFileSync(join(layer!, "etc/passwd"), "utf8")).toContain("app:x:1000:1000");
    expect(execFileSync(join(layer!, "bin/busybox"), ["echo", "hi"]).toString()).toBe("hi\n");
    // The store is a valid OCI layout that an independent tool reads.
    const skopeo = JSON.parse(execFileSync("skopeo", ["inspect", "--raw", `oci:${join(dir, "images")}:docker.io/library/busybox:test`]).toString()) as ImageManifest;
    expect(skopeo.config.digest).toBe(record.id);

    expect(await store.remove("busybox:test")).toEqual(["Untagged: busybox:test", `Deleted: ${record.id}`]);
    expect(await store.list()).toEqual([]);
    expect(storeFiles()).toEqual({ blobs: [], layers: [], ingest: [] });
    await expect(store.remove("busybox:test")).rejects.toThrow(/no such image: "busybox:test"/);
  });

  it("test helper: importBusyboxImage makes a runnable image with root, app and nobody", async () => {
    const name = await importBusyboxImage(dir);
    const record = await store.get(name);
    const forRuntime = await store.rootfsOf("stack-test/busybox");
    expect(forRuntime.id).toBe(record.id);
    expect(forRuntime.config).toEqual({ Cmd: ["sh"] });
    const [layer] = forRuntime.lowerdirs;
    const inRoot = (cmd: string) => execFileSync("chroot", [layer!, "/bin/sh", "-c", cmd]).toString().trim();
    expect(inRoot("id -u app; id -g app; id -u nobody; echo hi | cat")).toBe("1000\n1000\n65534\nhi");
    for (const applet of ["sh", "echo", "cat", "sleep", "ls", "id", "hostname", "mount", "ps", "httpd", "nc", "wget", "env", "true", "false", "touch", "rm", "mkdir", "kill", "top", "head", "tail", "grep", "nslookup", "ping"]) {
      expect(readlinkSync(join(layer!, "bin", applet)), applet).toBe("busybox");
    }
    await store.remove(name);
  });

  it("imports plain and zstd tarballs and keeps several names for one image", async () => {
    const raw = await busyboxRootfsTar();
    const plain = await store.importRootfs(Readable.from(raw), "localhost:5000/team/bb:plain");
    const zst = await store.importRootfs(Readable.from(execFileSync("zstd", ["-q", "-c"], { input: raw, maxBuffer: 64 << 20 })), "bb:zst");
    expect(plain.manifest.layers[0]!.mediaType).toBe(MediaTypes.ociLayer);
    expect(zst.manifest.layers[0]!.mediaType).toBe(MediaTypes.ociLayerZstd);
    // Same content → same diff_id → one unpacked folder shared by both.
    expect(await store.layerDirs(plain)).toEqual(await store.layerDirs(zst));
    expect(storeFiles().layers).toHaveLength(1);
    const tagged = await store.tag("bb:zst", "bb:again");
    expect(tagged.names).toEqual(["docker.io/library/bb:again", "docker.io/library/bb:zst"]);
    await expect(store.remove(zst.id)).rejects.toThrow(/has several names/);
    expect(await store.remove("bb:again")).toEqual(["Untagged: bb:again"]);
    expect((await store.remove(zst.id.slice(7, 19), { force: true })).at(-1)).toBe(`Deleted: ${zst.id}`);
    expect(storeFiles().layers).toHaveLength(1); // still used by the plain import
    await store.remove("localhost:5000/team/bb:plain");
    expect(storeFiles()).toEqual({ blobs: [], layers: [], ingest: [] });
  });

  it("turns OCI whiteouts into overlay whiteouts that a real overlay mount honours", async () => {
    const bottom = await makeTar([
      { name: "a/", type: "directory" },
      { name: "a/gone", content: "x" },
      { name: "a/kept", content: "y" },
      { name: "d/", type: "directory" },
      { name: "d/old", content: "old" },
    ]);
    const top = await makeTar([
      { name: "a/.wh.gone", content: "" },
      { name: "d/", type: "directory", mode: 0o750 },
      { name: "d/.wh..wh..opq", content: "" },
      { name: "d/new", content: "new" },
      { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "fifo", type: "fifo", mode: 0o600 },
      { name: "x", content: "xattr", pax: { "SCHILY.xattr.user.note": "hello" } },
      { name: "hard", type: "link", linkname: "x" },
    ]);
    const record = await addLayeredImage([bottom, top], "whiteouts:1");
    const dirs = await store.layerDirs(record);
    expect(dirs).toHaveLength(2);
    const upper = dirs[0]!;
    const wh = lstatSync(join(upper, "a/gone"));
    expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
    expect(execFileSync("getfattr", ["--only-values", "-n", "trusted.overlay.opaque", join(upper, "d")]).toString()).toBe("y");
    expect(statSync(join(upper, "d")).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(upper, "dev/null")).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(upper, "dev/null")).rdev).toBe(statSync("/dev/null").rdev);
    expect(lstatSync(join(upper, "fifo")).isFIFO()).toBe(true);
    expect(execFileSync("getfattr", ["--only-values", "-n", "user.note", join(upper, "x")]).toString()).toBe("hello");
    expect(statSync(join(upper, "hard")).ino).toBe(statSync(join(upper, "x")).ino);

    const target = join(dir, "mnt");
    mountOverlay(dirs, target);
    expect(readdirSync(join(target, "a"))).toEqual(["kept"]);
    expect(readdirSync(join(target, "d"))).toEqual(["new"]);
    unmount(target);
  });

  it("warns about binary xattr values it cannot keep and still unpacks the file", async () => {
    const warnings: string[] = [];
    store = new ImageStore(dir, { warn: (m) => warnings.push(m) });
    // tar-stream decodes PAX values as UTF-8: an undecodable value arrives as U+FFFD, as this one does.
    const tar = await makeTar([{ name: "ping", content: "bin", mode: 0o755, pax: { "SCHILY.xattr.security.capability": "\uFFFD\u0001" } }]);
    const record = await store.importRootfs(Readable.from(tar), "caps:1");
    expect(warnings).toEqual(["the archive for caps:1: 1 extended attribute(s) with binary values were not kept (ping: security.capability)"]);
    const [layer] = await store.layerDirs(record);
    expect(statSync(join(layer!, "ping")).mode & 0o777).toBe(0o755);
    await store.remove("caps:1");
  });

  it("stacks a 64-layer image as one overlay mount, and refuses to remove it while mounted", async () => {
    const layers = [];
    for (let i = 0; i < 64; i++) layers.push(await makeTar([{ name: `layer-${String(i).padStart(2, "0")}`, content: `${i}\n` }, { name: "top", content: `${i}\n` }]));
    const record = await addLayeredImage(layers, "deep:64");
    const dirs = await store.layerDirs(record);
    expect(dirs).toHaveLength(64);
    expect(new Set(dirs).size).toBe(64);
    const target = join(dir, "mnt");
    mountOverlay(dirs, target);
    const seen = readdirSync(target).filter((n) => n.startsWith("layer-"));
    expect(seen).toHaveLength(64);
    expect(readFileSync(join(target, "top"), "utf8")).toBe("63\n"); // the top-most layer wins
    await expect(store.remove("deep:64")).rejects.toThrow(/is in use: its layer .* is mounted/);
    unmount(target);
    await store.remove("deep:64");
    expect(storeFiles()).toEqual({ blobs: [], layers: [], ingest: [] });
  });

  it("removes unused layers with the last image and keeps shared ones", async () => {
    const base = await makeTar([{ name: "base", content: "b" }]);
    const a = await addLayeredImage([base, await makeTar([{ name: "a", content: "a" }])], "shared:a");
    const b = await addLayeredImage([base, await makeTar([{ name: "b", content: "b" }])], "shared:b");
    const [aTop, baseDir] = await store.layerDirs(a);
    const [bTop, baseDir2] = await store.layerDirs(b);
    expect(baseDir).toBe(baseDir2);
    await store.remove("shared:a");
    expect(existsSync(aTop!)).toBe(false);
    expect(existsSync(baseDir!)).toBe(true);
    expect(existsSync(bTop!)).toBe(true);
    expect(storeFiles().blobs).toHaveLength(4); // b's manifest, config and two layers
    await store.remove("shared:b");
    expect(storeFiles()).toEqual({ blobs: [], layers: [], ingest: [] });
  });

  it("survives two concurrent imports of different and of identical content", async () => {
    const tarA = await busyboxRootfsTar({ gzip: true });
    const tarB = gzipSync(await makeTar([{ name: "only-b", content: "b" }]));
    const results = await Promise.all([
      store.importRootfs(Readable.from(tarA), "race:a"),
      store.importRootfs(Readable.from(tarB), "race:b"),
      store.importRootfs(Readable.from(tarA), "race:a2"),
    ]);
    const names = (await store.list()).flatMap((r) => r.names).sort();
    expect(names).toEqual(["docker.io/library/race:a", "docker.io/library/race:a2", "docker.io/library/race:b"]);
    for (const r of results) expect((await store.layerDirs(r)).every((d) => existsSync(d))).toBe(true);
    expect(storeFiles().layers).toHaveLength(2);
    expect(storeFiles().ingest).toEqual([]);
  });

  it("leaves nothing half-used after a truncated archive, and sweeps a dead unpacker's folder", async () => {
    const gz = await busyboxRootfsTar({ gzip: true });
    const err = await store.importRootfs(Readable.from(gz.subarray(0, Math.floor(gz.length / 2))), "cut:1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/cannot decompress the archive for cut:1: gzip: unexpected end of file/);
    expect(storeFiles()).toEqual({ blobs: [], layers: [], ingest: [] });
    expect(await store.list()).toEqual([]);

    const rawCut = (await busyboxRootfsTar()).subarray(0, 100_000);
    await expect(store.importRootfs(Readable.from(rawCut), "cut:2")).rejects.toThrow(/the archive is not a valid tar/);
    expect(storeFiles()).toEqual({ blobs: [], layers: [], ingest: [] });

    // A folder left by a killed unpacker (pid 2^22+1 is above pid_max's default range) is removed, never used.
    mkdirSync(join(dir, "layers/.unpack-4194305-deadbeef/bin"), { recursive: true });
    const ok = await store.importRootfs(Readable.from(gz), "cut:ok");
    expect(storeFiles().layers).toEqual([ok.image.rootfs.diff_ids[0]!.slice(7, 19)]);
  });

  it("names a manifest whose blob is stored already without writing it again (a pull stores it early), and stores it otherwise", async () => {
    const tar = await makeTar([{ name: "f", content: "x" }]);
    const gz = gzipSync(tar);
    const layer = await store.writeBlob(gz);
    const diffId = `sha256:${execFileSync("sha256sum", { input: tar }).toString().split(" ")[0]}`;
    const cfg = await store.writeBlob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] } })));
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: cfg.digest, size: cfg.size }, layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: layer.digest, size: layer.size }] }));
    const early = await store.writeBlob(bytes);
    const inode = statSync(store.blobPath(early.digest)).ino;
    const record = await store.addImage(bytes, ["early:1"]);
    expect(record.digest).toBe(early.digest);
    expect(statSync(store.blobPath(early.digest)).ino).toBe(inode);
    // Without the early write, addImage stores the bytes itself.
    const other = Buffer.from(bytes.toString().replace('"schemaVersion":2', '"schemaVersion": 2'));
    const named = await store.addImage(other, ["late:1"]);
    expect((await store.readBlob(named.digest)).equals(other)).toBe(true);
  });

  it("keeps an unpacked layer only when the commit check passes (a pull's blob verification)", async () => {
    const tar = await makeTar([{ name: "d/", type: "directory" }, { name: "d/f", content: "v" }]);
    const refused = new InvalidInputError("blob content does not match its digest");
    await expect(store.layers.unpack(() => Readable.from([tar]), "test layer", undefined, { beforeCommit: () => Promise.reject(refused) })).rejects.toBe(refused);
    expect(storeFiles().layers).toEqual([]);
    let checked = 0;
    const kept = await store.layers.unpack(() => Readable.from([tar]), "test layer", undefined, { beforeCommit: async () => void checked++ });
    expect(checked).toBe(1);
    expect(readFileSync(join(kept.dir, "d/f"), "utf8")).toBe("v");
    expect(storeFiles().layers).toEqual([kept.diffId.slice(7, 19)]);
  });

  it("re-unpacks a layer whose folder is gone and refuses a layer that does not match its diff_id", async () => {
    const record = await addLayeredImage([await makeTar([{ name: "f", content: "1" }])], "re:1");
    const [layer] = await store.layerDirs(record);
    rmSync(layer!, { recursive: true });
    expect(await store.layerDirs(record)).toEqual([layer]);
    expect(readFileSync(join(layer!, "f"), "utf8")).toBe("1");

    const liar = await store.writeBlob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${"0".repeat(64)}`] } })));
    const bad = await store.addImage({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: liar.digest, size: liar.size }, layers: record.manifest.layers }, ["liar:1"]);
    await expect(store.layerDirs(bad)).rejects.toThrow(/unpacks to sha256:[0-9a-f]{64}, but the image config says sha256:0000/);
    expect(storeFiles().layers).toEqual([layer!.split("/").at(-1)]);
  });

  it("refuses blobs whose digest or size do not match, and manifests whose blobs are missing", async () => {
    await expect(store.writeBlob(Buffer.from("abc"), { digest: `sha256:${"1".repeat(64)}` })).rejects.toThrow(/does not match its digest/);
    await expect(store.writeBlob(Buffer.from("abc"), { size: 4 })).rejects.toThrow(/has 3 bytes, expected 4/);
    expect(storeFiles()).toEqual({ blobs: [], layers: [], ingest: [] });
    const cfg = await store.writeBlob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${"2".repeat(64)}`] } })));
    const missing = { mediaType: MediaTypes.ociLayerGzip, digest: `sha256:${"3".repeat(64)}`, size: 1 };
    await expect(store.addImage({ schemaVersion: 2, config: { mediaType: MediaTypes.ociConfig, digest: cfg.digest, size: cfg.size }, layers: [missing] }, ["m:1"])).rejects.toThrow(/blob sha256:3333.* was removed while it was being added/);
    await expect(store.addImage({ schemaVersion: 2, config: { mediaType: "text/plain", digest: cfg.digest, size: 1 }, layers: [] }, ["m:1"])).rejects.toThrow(/config media type "text\/plain"/);
    await expect(store.addImage({ schemaVersion: 2, config: { mediaType: MediaTypes.ociConfig, digest: cfg.digest, size: cfg.size }, layers: [missing] }, [])).rejects.toThrow(/needs at least one name/);
    await expect(store.addImage(Buffer.from("{not json"), ["m:1"])).rejects.toThrow(/the image manifest is not JSON/);
  });
});

interface HostileCase {
  name: string;
  entries: (victim: string) => TarEntry[];
  error: RegExp;
}

const hostile: HostileCase[] = [
  { name: "dot-dot path", entries: () => [{ name: "../escaped", content: "x" }], error: /refusing archive entry "\.\.\/escaped": a "\.\." component/ },
  { name: "dot-dot in the middle", entries: () => [{ name: "a/../../escaped", content: "x" }], error: /a "\.\." component/ },
  { name: "write through an absolute symlink", entries: (v) => [{ name: "link", type: "symlink", linkname: v }, { name: "link/pwned", content: "x" }], error: /its parent "link" is a symlink/ },
  { name: "write through a relative symlink", entries: () => [{ name: "link", type: "symlink", linkname: "../../../../../../../../tmp" }, { name: "link/pwned", content: "x" }], error: /its parent "link" is a symlink/ },
  { name: "directory replaced by a symlink, then written into", entries: (v) => [{ name: "d/", type: "directory" }, { name: "d", type: "symlink", linkname: v }, { name: "d/pwned", content: "x" }], error: /its parent "d" is a symlink/ },
  { name: "hard link with dot-dot", entries: () => [{ name: "hl", type: "link", linkname: "../../../etc/passwd" }], error: /hard link target "\.\.\/\.\.\/\.\.\/etc\/passwd" has a "\.\." component/ },
  { name: "hard link to an absolute path", entries: () => [{ name: "hl", type: "link", linkname: "/etc/passwd" }], error: /"etc" does not exist in the layer/ },
  { name: "hard link through a symlink", entries: () => [{ name: "etc", type: "symlink", linkname: "/etc" }, { name: "hl", type: "link", linkname: "etc/passwd" }], error: /its parent "etc" is a symlink/ },
  { name: "hard link to a directory", entries: () => [{ name: "d/", type: "directory" }, { name: "hl", type: "link", linkname: "d" }], error: /is a directory/ },
  { name: "overlay xattr smuggled in", entries: () => [{ name: "f", content: "x", pax: { "SCHILY.xattr.trusted.overlay.redirect": "/etc" } }], error: /overlay-internal xattr/ },
  { name: "a file as the layer root", entries: () => [{ name: "./", content: "x" }], error: /only a directory may stand for the layer root/ },
];

describe.skipIf(skipUnlessRoot("hostile archive tests"))("hostile archives", () => {
  let victim: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-image-"));
    victim = mkdtempSync(join(tmpdir(), "stack-victim-"));
    writeFileSync(join(victim, "precious"), "keep");
    store = new ImageStore(dir);
    before = snapshotOwn(dir);
  });
  afterEach(() => {
    assertNoOwnLeaks(before, dir);
    rmSync(dir, { recursive: true, force: true });
    rmSync(victim, { recursive: true, force: true });
  });

  it.each(hostile)("refuses $name with a clear error and writes nothing outside", async ({ entries, error }) => {
    const passwdBefore = readFileSync("/etc/passwd", "utf8");
    const err = await store.importRootfs(Readable.from(await makeTar(entries(victim))), "evil:1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(error);
    expect((err as InvalidInputError).hint).toMatch(/nothing outside the layer folder was written/);
    expect(readdirSync(victim)).toEqual(["precious"]);
    expect(existsSync(join(dir, "escaped")) || existsSync(join(tmpdir(), "escaped")) || existsSync("/tmp/pwned")).toBe(false);
    expect(readFileSync("/etc/passwd", "utf8")).toBe(passwdBefore);
    expect(storeFiles()).toEqual({ blobs: [], layers: [], ingest: [] });
  });

  it("keeps absolute names inside the layer and replaces a symlink instead of writing through it", async () => {
    const record = await store.importRootfs(
      Readable.from(await makeTar([
        { name: "/abs-file", content: "inside" },
        { name: "s", type: "symlink", linkname: join(victim, "precious") },
        { name: "s", content: "replaced" },
      ])),
      "tricky:1",
    );
    const [layer] = await store.layerDirs(record);
    expect(readFileSync(join(layer!, "abs-file"), "utf8")).toBe("inside");
    expect(existsSync("/abs-file")).toBe(false);
    expect(lstatSync(join(layer!, "s")).isFile()).toBe(true);
    expect(readFileSync(join(victim, "precious"), "utf8")).toBe("keep");
    await store.remove("tricky:1");
  });
});
