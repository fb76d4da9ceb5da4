// `saveImages`/`loadArchive`: round trips, archives skopeo reads (docker-archive
// and oci-archive), archives skopeo writes, and broken or hostile archives.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArchive, saveImages } from "../../../src/image/registry/archive.js";
import { ImageStore } from "../../../src/image/store/index.js";
import { busyboxEntries, importBusyboxImage, makeTar } from "../../helpers/busybox-image.js";
import type { HostSnapshot } from "../../helpers/leaks.js";
import { assertNoOwnLeaks, snapshotOwn } from "./own-leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { addLayeredImage } from "./images.js";

let dir: string;
let before: HostSnapshot;
let source: ImageStore;
const skopeo = (args: string[]) => execFileSync("skopeo", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

describe.skipIf(skipUnlessRoot("image archive tests"))("image save and load", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "stack-archive-"));
    before = snapshotOwn(dir);
    await importBusyboxImage(join(dir, "src"), "stack-test/busybox:1");
    source = new ImageStore(join(dir, "src"));
    const base = await makeTar(busyboxEntries());
    await addLayeredImage(source, "example.test/team/layers:2", [
      { tar: base, compression: "gzip" },
      { tar: await makeTar([{ name: "etc/motd", content: "hi" }]), compression: "zstd" },
      { tar: await makeTar([{ name: "srv/", type: "directory" }, { name: "srv/x", content: "x" }]), compression: "none" },
    ]);
  });
  afterAll(() => {
    assertNoOwnLeaks(before, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("saves an archive skopeo reads as docker-archive and oci-archive, and loads it back with the same IDs and digests", async () => {
    const file = join(dir, "both.tar");
    expect(await saveImages(source, ["stack-test/busybox:1", "example.test/team/layers:2"], file)).toEqual({ images: 2, blobs: 7 }); // the two images share their gzip busybox layer
    const busybox = await source.get("stack-test/busybox:1");
    const layered = await source.get("example.test/team/layers:2");

    const asDocker = JSON.parse(skopeo(["inspect", `docker-archive:${file}:docker.io/stack-test/busybox:1`])) as { Layers: string[] };
    expect(asDocker.Layers).toHaveLength(1);
    const asOci = JSON.parse(skopeo(["inspect", `oci-archive:${file}:2`])) as { Digest: string; Layers: string[] };
    expect(asOci).toMatchObject({ Digest: layered.digest });
    expect(asOci.Layers).toHaveLength(3);
    const listed = JSON.parse(execFileSync("tar", ["-xOf", file, "manifest.json"], { encoding: "utf8" })) as Array<{ RepoTags: string[] }>;
    expect(listed.map((m) => m.RepoTags)).toEqual([["stack-test/busybox:1"], ["example.test/team/layers:2"]]);

    const target = new ImageStore(join(dir, "dst"));
    expect(await loadArchive(target, file)).toEqual(["stack-test/busybox:1", "example.test/team/layers:2"]);
    expect(await target.get("stack-test/busybox:1")).toMatchObject({ id: busybox.id, digest: busybox.digest });
    expect(await target.get("example.test/team/layers:2")).toMatchObject({ id: layered.id, digest: layered.digest });
    const { lowerdirs } = await target.rootfsOf("example.test/team/layers:2");
    expect(readFileSync(join(lowerdirs[1]!, "etc", "motd"), "utf8")).toBe("hi");
    expect(readdirSync(join(dir, "dst", "registry", "tmp"))).toEqual([]);

    // gzip-compressed, as `docker save | gzip` makes
    writeFileSync(join(dir, "both.tar.gz"), gzipSync(readFileSync(file)));
    expect(await loadArchive(new ImageStore(join(dir, "dst-gz")), join(dir, "both.tar.gz"))).toHaveLength(2);
  });

  it("loads the docker-archive and oci-archive that skopeo writes", async () => {
    const layered = await source.get("example.test/team/layers:2");
    const busybox = await source.get("stack-test/busybox:1");
    // skopeo writes no zstd layers into docker archives: the busybox image (gzip) goes there.
    skopeo(["copy", `oci:${join(dir, "src", "images")}:docker.io/stack-test/busybox:1`, `docker-archive:${join(dir, "skopeo-docker.tar")}:example.test/from/docker:1`]);
    skopeo(["copy", `oci:${join(dir, "src", "images")}:example.test/team/layers:2`, `oci-archive:${join(dir, "skopeo-oci.tar")}:example.test/from/oci:1`]);

    const fromDocker = new ImageStore(join(dir, "from-docker"));
    expect(await loadArchive(fromDocker, join(dir, "skopeo-docker.tar"))).toEqual(["example.test/from/docker:1"]);
    const loaded = await fromDocker.get("example.test/from/docker:1");
    expect(loaded.image.rootfs.diff_ids).toEqual(busybox.image.rootfs.diff_ids);
    const { lowerdirs } = await fromDocker.rootfsOf("example.test/from/docker:1");
    expect(execFileSync("chroot", [lowerdirs[0]!, "/bin/busybox", "echo", "loaded"], { encoding: "utf8" })).toBe("loaded\n");

    const fromOci = new ImageStore(join(dir, "from-oci"));
    expect(await loadArchive(fromOci, join(dir, "skopeo-oci.tar"))).toEqual(["example.test/from/oci:1"]);
    expect((await fromOci.get("example.test/from/oci:1")).image.rootfs.diff_ids).toEqual(layered.image.rootfs.diff_ids);
  });

  it("refuses broken and hostile archives, leaving no image", async () => {
    const target = new ImageStore(join(dir, "refused"));
    const cases: Array<{ name: string; entries: Parameters<typeof makeTar>[0]; error: RegExp }> = [
      { name: "neither", entries: [{ name: "hello.txt", content: "hi" }], error: /is neither an OCI archive \(index\.json\) nor a docker-save archive/ },
      { name: "escape", entries: [{ name: "../evil", content: "x" }], error: /archive member "\.\.\/evil" points outside the archive/ },
      { name: "missing", entries: [{ name: "manifest.json", content: JSON.stringify([{ Config: "c.json", RepoTags: ["a:1"], Layers: [] }]) }], error: /the archive has no member "c\.json"/ },
      { name: "notjson", entries: [{ name: "manifest.json", content: "{" }], error: /manifest\.json is not valid JSON/ },
      {
        name: "unnamed",
        entries: [{ name: "index.json", content: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + "0".repeat(64), size: 2 }] }) }],
        error: /the archive has no member "blobs\/sha256\/0{64}"/,
      },
    ];
    for (const c of cases) {
      const file = join(dir, `${c.name}.tar`);
      writeFileSync(file, await makeTar(c.entries));
      await expect(loadArchive(target, file), c.name).rejects.toThrow(c.error);
    }
    // A layer whose bytes do not match its digest.
    const file = join(dir, "both.tar");
    const extracted = join(dir, "tampered");
    execFileSync("mkdir", ["-p", extracted]);
    execFileSync("tar", ["-xf", file, "-C", extracted]);
    const layered = await source.get("example.test/team/layers:2");
    const victim = join(extracted, "blobs", "sha256", layered.manifest.layers[2]!.digest.slice(7));
    const bytes = readFileSync(victim);
    bytes[600] ^= 1;
    writeFileSync(victim, bytes);
    execFileSync("tar", ["-cf", join(dir, "tampered.tar"), "-C", extracted, "."]);
    await expect(loadArchive(target, join(dir, "tampered.tar"))).rejects.toThrow(/blob sha256:[0-9a-f]{64}: blob content does not match its digest/);
    await expect(loadArchive(target, join(dir, "nope.tar"))).rejects.toThrow(/"[^"]*nope\.tar" is not a file/);
    await expect(saveImages(source, ["stack-test/busybox:1"], join(dir, "no-such-folder", "x.tar"))).rejects.toThrow(/image save: folder "[^"]*no-such-folder" of "[^"]*x\.tar" does not exist/);
    await expect(saveImages(source, [], join(dir, "x.tar"))).rejects.toThrow(/image save: no image given/);
    await expect(saveImages(source, ["absent:1"], join(dir, "x.tar"))).rejects.toThrow(/no such image: "absent:1"/);
    expect(await target.list()).toEqual([]);
    expect(existsSync(join(dir, "refused", "registry", "tmp")) ? readdirSync(join(dir, "refused", "registry", "tmp")) : []).toEqual([]);
  });
});
