// Push and pull against a real registry (docker-registry on 127.0.0.1, plain
// HTTP), checked with skopeo, an independent client.
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullImage, pushImage } from "../../../src/image/registry/index.js";
import { ImageStore } from "../../../src/image/store/index.js";
import { busyboxEntries, importBusyboxImage, makeTar } from "../../helpers/busybox-image.js";
import { assertNoLeaks, snapshotHost, type HostSnapshot } from "../../helpers/leaks.js";
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
    before = snapshotHost([dir]);
    registry = await startRegistry(join(dir, "registry"));
  });
  afterAll(async () => {
    await registry?.stop();
    assertNoLeaks(before, [dir]);
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
});
