import { describe, expect, it } from "vitest";
import { detectCompression } from "../../../src/image/tar/decompress.js";
import { digestOfRef, emptyIndex, manifestDigests, refsOfDigest, removeRef, setRef } from "../../../src/image/store/image-index.js";
import { checkManifest, type ImageRecord } from "../../../src/image/store/image-store.js";
import { humanAge, humanSize, imageRows, inspectView, renderImageTable } from "../../../src/image/store/listing.js";
import { lowerdirsFromMountinfo } from "../../../src/image/store/mount-table.js";
import { MediaTypes } from "../../../src/image/store/oci-types.js";

const d = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (c: string) => ({ mediaType: MediaTypes.ociManifest, digest: d(c), size: 10 });

describe("image index", () => {
  it("names, renames and unnames manifests, sorted by name", () => {
    let index = setRef(emptyIndex(), "docker.io/library/b:1", desc("1"));
    index = setRef(index, "docker.io/library/a:1", desc("1"));
    index = setRef(index, "docker.io/library/c:1", desc("2"));
    expect(refsOfDigest(index, d("1"))).toEqual(["docker.io/library/a:1", "docker.io/library/b:1"]);
    expect(manifestDigests(index)).toEqual([d("1"), d("2")]);
    index = setRef(index, "docker.io/library/a:1", desc("2"));
    expect(digestOfRef(index, "docker.io/library/a:1")).toBe(d("2"));
    expect(index.manifests.map((m) => m.annotations!["org.opencontainers.image.ref.name"])).toEqual(["docker.io/library/a:1", "docker.io/library/b:1", "docker.io/library/c:1"]);
    index = removeRef(index, "docker.io/library/b:1");
    expect(manifestDigests(index)).toEqual([d("2")]);
    expect(digestOfRef(index, "docker.io/library/b:1")).toBeUndefined();
  });
});

describe("detectCompression", () => {
  it.each([
    { head: [0x1f, 0x8b, 8, 0], expected: "gzip" },
    { head: [0x28, 0xb5, 0x2f, 0xfd, 0, 0], expected: "zstd" },
    { head: [0x61, 0x62, 0x63], expected: "none" },
    { head: [], expected: "none" },
  ])("$expected", ({ head, expected }) => expect(detectCompression(Uint8Array.from(head), "x")).toBe(expected));

  it.each([
    { head: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], error: /x is xz-compressed/ },
    { head: [0x42, 0x5a, 0x68, 0x39], error: /x is bzip2-compressed/ },
  ])("refuses $error", ({ head, error }) => expect(() => detectCompression(Uint8Array.from(head), "x")).toThrow(error));
});

describe("checkManifest", () => {
  const good = { schemaVersion: 2 as const, config: { mediaType: MediaTypes.dockerConfig, digest: d("1"), size: 1 }, layers: [{ mediaType: MediaTypes.dockerLayerGzip, digest: d("2"), size: 1 }] };
  it("accepts OCI and Docker schema 2", () => {
    expect(() => checkManifest({ ...good, mediaType: MediaTypes.dockerManifest }, "m")).not.toThrow();
    expect(() => checkManifest({ ...good, mediaType: MediaTypes.ociManifest }, "m")).not.toThrow();
  });
  it.each([
    { m: { ...good, schemaVersion: 1 }, error: /schemaVersion 1, expected 2/ },
    { m: { ...good, mediaType: MediaTypes.ociIndex }, error: /media type "application\/vnd.oci.image.index.v1\+json"/ },
    { m: { ...good, layers: [{ mediaType: "foreign", digest: d("2"), size: 1 }] }, error: /layers\[0\] has media type "foreign"/ },
  ])("refuses $error", ({ m, error }) => expect(() => checkManifest(m as never, "m")).toThrow(error));
});

describe("lowerdirsFromMountinfo", () => {
  it("reads overlay lowerdirs, unescaping octal", () => {
    const text = [
      "36 35 98:0 / /mnt1 rw,noatime master:1 - ext4 /dev/root rw,errors=continue",
      "40 35 0:50 / /run/x rw,relatime - overlay overlay rw,lowerdir=/s/layers/a:/s/layers/b,upperdir=/u,workdir=/w",
      "41 35 0:51 / /run/y rw - overlay overlay rw,lowerdir=/with\\040space:/c,redirect_dir=on",
    ].join("\n");
    expect([...lowerdirsFromMountinfo(text)].sort()).toEqual(["/c", "/s/layers/a", "/s/layers/b", "/with space"]);
  });
});

describe("listing", () => {
  it.each([
    { bytes: 0, expected: "0B" },
    { bytes: 999, expected: "999B" },
    { bytes: 1000, expected: "1kB" },
    { bytes: 4_262_000, expected: "4.26MB" },
    { bytes: 1_234_567_890, expected: "1.23GB" },
  ])("humanSize($bytes)", ({ bytes, expected }) => expect(humanSize(bytes)).toBe(expected));

  const now = new Date("2025-01-10T00:00:00Z");
  it.each([
    { from: "2025-01-09T23:59:59.5Z", expected: "Less than a second ago" },
    { from: "2025-01-09T23:59:30Z", expected: "30 seconds ago" },
    { from: "2025-01-09T23:58:30Z", expected: "About a minute ago" },
    { from: "2025-01-09T23:10:00Z", expected: "50 minutes ago" },
    { from: "2025-01-09T23:00:00Z", expected: "About an hour ago" },
    { from: "2025-01-09T14:00:00Z", expected: "10 hours ago" },
    { from: "2025-01-05T00:00:00Z", expected: "5 days ago" },
    { from: "2024-12-01T00:00:00Z", expected: "5 weeks ago" },
    { from: "2024-06-01T00:00:00Z", expected: "7 months ago" },
    { from: "2020-01-01T00:00:00Z", expected: "5 years ago" },
    { from: undefined, expected: "N/A" },
  ])("humanAge($from)", ({ from, expected }) => expect(humanAge(from, now)).toBe(expected));

  const record = (id: string, names: string[], created: string): ImageRecord => ({
    id: d(id),
    digest: d("f"),
    names,
    created,
    size: 2_000_000,
    manifest: { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, digest: d(id), size: 1 }, layers: [] },
    image: { architecture: "amd64", os: "linux", config: { Cmd: ["sh"] }, rootfs: { type: "layers", diff_ids: [d("e")] } },
  });

  it("renders one row per name, newest first, Docker's columns", () => {
    const rows = imageRows([record("1", ["docker.io/library/old:1"], "2025-01-01T00:00:00Z"), record("2", ["localhost:5000/app:dev", "docker.io/me/app:latest"], "2025-01-09T00:00:00Z"), record("3", [], "2024-01-01T00:00:00Z")], now);
    expect(renderImageTable(rows)).toBe(
      [
        "REPOSITORY           TAG      IMAGE ID       CREATED         SIZE",
        "localhost:5000/app   dev      222222222222   24 hours ago    2MB",
        "me/app               latest   222222222222   24 hours ago    2MB",
        "old                  1        111111111111   9 days ago      2MB",
        "<none>               <none>   333333333333   12 months ago   2MB",
        "",
      ].join("\n"),
    );
  });

  it("inspects with Docker's field names", () => {
    const view = inspectView(record("1", ["docker.io/library/bb:1", "docker.io/library/bb:2"], "2025-01-01T00:00:00Z"), ["/l/top"]);
    expect(view).toMatchObject({ Id: d("1"), RepoTags: ["bb:1", "bb:2"], RepoDigests: [`bb@${d("f")}`], Os: "linux", Config: { Cmd: ["sh"] }, RootFS: { Type: "layers", Layers: [d("e")] }, GraphDriver: { Data: { LowerDirs: ["/l/top"] } } });
  });
});
