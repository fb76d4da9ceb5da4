// The builder for real (root): runc build containers over overlay, layers in
// the image store, the step cache, and nothing left behind.
import { chmodSync, createReadStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, BuildStepError, type BuildProgress, type BuildRequest } from "../../../src/image/build/index.js";
import { LayeredFs } from "../../../src/image/build/layered-fs.js";
import { ImageStore } from "../../../src/image/store/index.js";
import { importBusyboxImage } from "../../helpers/busybox-image.js";
import type { HostSnapshot } from "../../helpers/leaks.js";
import { assertNoBuildLeaks, snapshotBuildHost } from "./build-leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";

/** Every entry below `root`: type, mode, owner, mtime (s), size, link target and content. */
function describeTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, path));
      const what = st.isSymbolicLink() ? `-> ${readlinkSync(join(root, path))}` : st.isFile() ? readFileSync(join(root, path), "utf8").slice(0, 20) : "";
      out.push(`${path} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${Math.floor(st.mtimeMs / 1000)} ${st.isDirectory() ? "" : st.size} ${what}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk("");
  return out;
}

describe.skipIf(skipUnlessRoot("builder integration tests"))("image builder", () => {
  let dir: string;
  let stateDir: string;
  let runDir: string;
  let before: HostSnapshot;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "stack-build-"));
    stateDir = join(dir, "state");
    runDir = join(dir, "run");
    before = snapshotBuildHost(dir, join(runDir, "runc"));
    base = await importBusyboxImage(stateDir, "stack-test/busybox:latest");
  });

  afterAll(() => {
    try {
      assertNoBuildLeaks(before, dir, join(runDir, "runc"), stateDir);
      expect(existsSync(join(stateDir, "projects", "_build", "containers")) ? readdirSync(join(stateDir, "projects", "_build", "containers")) : []).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  function context(name: string, files: Record<string, string>): string {
    const ctx = join(dir, name);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(ctx, path, ".."), { recursive: true });
      writeFileSync(join(ctx, path), content);
    }
    return ctx;
  }

  function request(ctx: string, tag: string, over: Partial<BuildRequest> = {}): BuildRequest {
    return { context: ctx, dockerfile: join(ctx, "Dockerfile"), args: {}, labels: {}, network: "none", extraHosts: [], noCache: false, pull: false, tags: [tag], additionalContexts: {}, secrets: [], ...over };
  }

  async function build(req: BuildRequest) {
    const events: BuildProgress[] = [];
    const result = await buildImage({ stateDir, runDir }, req, (e) => events.push(e));
    const steps = events.filter((e): e is Extract<BuildProgress, { type: "step" }> => e.type === "step" && e.status !== "running");
    return { result, events, steps, cached: steps.filter((s) => s.status === "cached").map((s) => s.text) };
  }

  async function rootfs(ref: string): Promise<LayeredFs> {
    const { lowerdirs } = await new ImageStore(stateDir).rootfsOf(ref);
    return new LayeredFs(lowerdirs);
  }

  it("multi-stage COPY --from, RUN deleting a lower file (whiteout), modes, owners, links", async () => {
    const ctx = context("multi", {
      Dockerfile: `FROM ${base} AS build
RUN mkdir -p /out && echo built > /out/app && chown 1000:1000 /out/app && chmod 4750 /out/app && ln -s app /out/link && ln /out/app /out/hard
FROM ${base}
COPY --from=build /out/ /app/
COPY --chown=app:app --chmod=640 hello.txt /srv/
RUN rm /bin/yes && rm -r /home/app
CMD ["cat", "/app/app"]
`,
      "hello.txt": "hello\n",
    });
    const { result } = await build(request(ctx, "test/multi:1"));
    expect(result.id).toMatch(/^sha256:/);
    const fs = await rootfs("test/multi:1");
    const app = fs.lstat("/app/app")!;
    expect(readFileSync(app.hostPath, "utf8")).toBe("built\n");
    expect(app.stat.mode & 0o7777).toBe(0o4750);
    expect([app.stat.uid, app.stat.gid]).toEqual([1000, 1000]);
    expect(fs.lstat("/app/link")!.stat.isSymbolicLink()).toBe(true);
    expect(readlinkSync(fs.lstat("/app/link")!.hostPath)).toBe("app");
    expect(fs.lstat("/app/hard")!.stat.ino).toBe(app.stat.ino);
    const hello = fs.lstat("/srv/hello.txt")!;
    expect(hello.stat.mode & 0o777).toBe(0o640);
    expect([hello.stat.uid, hello.stat.gid]).toEqual([1000, 1000]);
    // Deleted from a lower layer: gone in the image's view, a whiteout in the top layer.
    expect(fs.lstat("/bin/yes")).toBeUndefined();
    expect(fs.lstat("/home/app")).toBeUndefined();
    expect(fs.lstat("/etc/passwd")).toBeDefined();
    const top = fs.layers[0]!;
    expect(lstatSync(join(top, "bin/yes")).isCharacterDevice()).toBe(true);
    const image = await new ImageStore(stateDir).get("test/multi:1");
    expect(image.image.config?.Cmd).toEqual(["cat", "/app/app"]);
  });

  it("caches unchanged steps and invalidates from the changed file on", async () => {
    const ctx = context("cache", {
      Dockerfile: `FROM ${base}
COPY a.txt /a.txt
RUN cat /a.txt > /a.copy
COPY b.txt /b.txt
RUN cat /b.txt > /b.copy
`,
      "a.txt": "a1\n",
      "b.txt": "b1\n",
    });
    const first = await build(request(ctx, "test/cache:1"));
    expect(first.cached).toEqual([]);
    const second = await build(request(ctx, "test/cache:1"));
    expect(second.cached).toEqual(["COPY a.txt /a.txt", "RUN cat /a.txt > /a.copy", "COPY b.txt /b.txt", "RUN cat /b.txt > /b.copy"]);
    expect(second.result.id).toBe(first.result.id);
    writeFileSync(join(ctx, "b.txt"), "b2\n");
    const third = await build(request(ctx, "test/cache:1"));
    expect(third.cached).toEqual(["COPY a.txt /a.txt", "RUN cat /a.txt > /a.copy"]);
    expect(readFileSync((await rootfs("test/cache:1")).lstat("/b.copy")!.hostPath, "utf8")).toBe("b2\n");
    // The mode counts, the mtime does not.
    chmodSync(join(ctx, "a.txt"), 0o600);
    const fourth = await build(request(ctx, "test/cache:1"));
    expect(fourth.cached).toEqual([]);
    const noCache = await build(request(ctx, "test/cache:1", { noCache: true }));
    expect(noCache.cached).toEqual([]);
  });

  it("remembered context digests stay precise: same size and mtime, other content, invalidates", async () => {
    const ctx = context("digests", { Dockerfile: `FROM ${base}\nCOPY data/ /data/\nRUN cat /data/v.txt > /seen\n`, "data/v.txt": "v1\n", "data/other.txt": "o\n" });
    // Old timestamps, so the digests are remembered (a file changed within the last second is always read).
    const past = Date.now() / 1000 - 3600;
    for (const f of ["data/v.txt", "data/other.txt"]) utimesSync(join(ctx, f), past, past);
    await build(request(ctx, "test/digests:1"));
    expect((await build(request(ctx, "test/digests:1"))).cached).toEqual(["COPY data/ /data/", "RUN cat /data/v.txt > /seen"]);
    writeFileSync(join(ctx, "data/v.txt"), "v2\n");
    utimesSync(join(ctx, "data/v.txt"), past, past);
    const changed = await build(request(ctx, "test/digests:1"));
    expect(changed.cached).toEqual([]);
    expect(readFileSync((await rootfs("test/digests:1")).lstat("/seen")!.hostPath, "utf8")).toBe("v2\n");
  });

  it("a COPY confirmed by its memo plans nothing; a same-size change with the mtime put back, a new file and a .dockerignore change each rebuild it", async () => {
    const ctx = context("memo", { Dockerfile: `FROM ${base}\nCOPY app/ /app/\n`, "app/a.txt": "a1\n", "app/b.txt": "b1\n", "app/sub/c.txt": "c\n" });
    const past = Math.floor(Date.now() / 1000) - 3600;
    for (const f of ["app/a.txt", "app/b.txt", "app/sub/c.txt"]) utimesSync(join(ctx, f), past, past);
    const copy = ["COPY app/ /app/"];
    await build(request(ctx, "test/memo:1"));
    // The files' ctimes are racy for a second after they were written: then the next build leaves a memo.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await build(request(ctx, "test/memo:1"))).cached).toEqual(copy);
    const digests = join(stateDir, "build-cache", "digests");
    rmSync(digests, { recursive: true, force: true });
    const confirmed = await build(request(ctx, "test/memo:1"));
    expect(confirmed.cached).toEqual(copy);
    // No plan: no file digest was asked for, so none was written.
    expect(existsSync(digests)).toBe(false);

    writeFileSync(join(ctx, "app/a.txt"), "a2\n");
    utimesSync(join(ctx, "app/a.txt"), past, past);
    expect((await build(request(ctx, "test/memo:1"))).cached).toEqual([]);
    expect(readFileSync((await rootfs("test/memo:1")).lstat("/app/a.txt")!.hostPath, "utf8")).toBe("a2\n");

    writeFileSync(join(ctx, "app/sub/new.txt"), "n\n");
    expect((await build(request(ctx, "test/memo:1"))).cached).toEqual([]);
    expect((await rootfs("test/memo:1")).lstat("/app/sub/new.txt")).toBeDefined();

    writeFileSync(join(ctx, ".dockerignore"), "app/b.txt\n");
    expect((await build(request(ctx, "test/memo:1"))).cached).toEqual([]);
    expect((await rootfs("test/memo:1")).lstat("/app/b.txt")).toBeUndefined();
  });

  it("a COPY layer's folder, written beside its tar, is what the store unpacks from the tar", async () => {
    const ctx = context("folder", { Dockerfile: `FROM ${base}\nCOPY --chmod=4750 tree/ /opt/tree/\nCOPY --chown=1000:1001 tree/sub/ /home/\n`, "tree/a.txt": "a", "tree/sub/b.txt": "b", "tree/sub/deeper/c.txt": "c".repeat(5000) });
    symlinkSync("a.txt", join(ctx, "tree/link"));
    await build(request(ctx, "test/folder:1"));
    const store = new ImageStore(stateDir);
    const image = await store.get("test/folder:1");
    const written = (await store.layerDirs(image)).slice(0, 2);
    const other = new ImageStore(join(dir, "unpack-state"));
    for (const [i, layer] of image.manifest.layers.slice(-2).reverse().entries()) {
      const unpacked = await other.layers.unpack(() => createReadStream(store.blobPath(layer.digest)), "test layer");
      expect(unpacked.diffId).toBe(layer.digest);
      expect(describeTree(written[i]!)).toEqual(describeTree(unpacked.dir));
    }
    rmSync(join(dir, "unpack-state"), { recursive: true, force: true });
  });

  it("a fully cached rebuild writes nothing to the image store", async () => {
    const ctx = context("nowrite", { Dockerfile: `FROM ${base}\nCOPY f /f\nRUN cp /f /g\n`, f: "f" });
    const first = await build(request(ctx, "test/nowrite:1"));
    const index = join(stateDir, "images", "index.json");
    const before = lstatSync(index);
    const again = await build(request(ctx, "test/nowrite:1"));
    expect(again.result).toEqual(first.result);
    const after = lstatSync(index);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    // Another name for the same image is written.
    const tagged = await build(request(ctx, "test/nowrite:2"));
    expect(tagged.result.id).toBe(first.result.id);
    expect((await new ImageStore(stateDir).get("test/nowrite:2")).id).toBe(first.result.id);
  });

  it("onCacheMiss is told once when steps miss the cache, never by a fully cached build", async () => {
    const ctx = context("misses", { Dockerfile: `FROM ${base}\nWORKDIR /w\nCOPY f /w/f\nRUN cp /w/f /w/g\n`, f: "f" });
    let misses = 0;
    const onCacheMiss = () => void misses++;
    await buildImage({ stateDir, runDir, onCacheMiss }, request(ctx, "test/misses:1"));
    expect(misses).toBe(1);
    await buildImage({ stateDir, runDir, onCacheMiss }, request(ctx, "test/misses:1"));
    expect(misses).toBe(1);
    await buildImage({ stateDir, runDir, onCacheMiss }, request(ctx, "test/misses:1", { noCache: true }));
    expect(misses).toBe(2);
  });

  it("a build container that cannot be removed fails the build once every step is done", async () => {
    const { openRuntime } = await import("../../../src/runtime/index.js");
    const runtime = openRuntime({ stateDir, runDir });
    const remove = runtime.remove.bind(runtime);
    runtime.remove = async (handle) => {
      await remove(handle);
      throw new Error("remove refused (test)");
    };
    const ctx = context("noremove", { Dockerfile: `FROM ${base}\nRUN echo a > /a\nRUN echo b > /b\n` });
    const events: BuildProgress[] = [];
    await expect(buildImage({ stateDir, runDir, runtime }, request(ctx, "test/noremove:1", { noCache: true }), (e) => events.push(e))).rejects.toThrow("remove refused (test)");
    // Both steps ran: the failed removal of the first did not stop the second.
    expect(events.filter((e) => e.type === "step" && e.status === "done" && e.text.startsWith("RUN")).length).toBe(2);
  });

  it("build args, target, .dockerignore, a cache mount reused between builds", async () => {
    const ctx = context("args", {
      Dockerfile: `FROM ${base} AS first
ARG GREETING=hi
RUN --mount=type=cache,target=/cache echo "$GREETING" >> /cache/log && cat /cache/log | wc -l > /count
COPY . /ctx/
FROM ${base} AS second
RUN echo never > /x
`,
      "keep.txt": "k",
      "secret.key": "s",
      "docs/a.md": "a",
      "docs/keep.md": "k",
      ".dockerignore": "*.key\ndocs\n!docs/keep.md\n",
    });
    await build(request(ctx, "test/args:1", { target: "first", args: { GREETING: "hello" } }));
    let fs = await rootfs("test/args:1");
    expect(readFileSync(fs.lstat("/count")!.hostPath, "utf8").trim()).toBe("1");
    expect(fs.lstat("/x")).toBeUndefined();
    expect(fs.lstat("/ctx/keep.txt")).toBeDefined();
    expect(fs.lstat("/ctx/secret.key")).toBeUndefined();
    expect(fs.lstat("/ctx/docs/a.md")).toBeUndefined();
    expect(fs.lstat("/ctx/docs/keep.md")).toBeDefined();
    // Another arg value: the RUN runs again and sees the cache mount's earlier content.
    await build(request(ctx, "test/args:1", { target: "first", args: { GREETING: "bye" } }));
    fs = await rootfs("test/args:1");
    expect(readFileSync(fs.lstat("/count")!.hostPath, "utf8").trim()).toBe("2");
    expect(fs.lstat("/cache")).toBeUndefined();
  });

  it("a failing RUN names the step, its exit code and its last output", async () => {
    const ctx = context("fail", { Dockerfile: `FROM ${base}\nRUN echo first-line && echo oops >&2 && exit 3\n` });
    const err = await build(request(ctx, "test/fail:1")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildStepError);
    const e = err as BuildStepError;
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain("step 2/2 (Dockerfile:2) RUN echo first-line");
    expect(e.message).toContain("exit code 3");
    expect(e.lastLines).toEqual(expect.arrayContaining(["first-line", "oops"]));
    expect(await new ImageStore(stateDir).resolve("test/fail:1")).toBeUndefined();
  });

  it("a missing base image is NotFound with a hint, and an injected pull() is asked", async () => {
    const ctx = context("missing", { Dockerfile: "FROM nowhere/none:1\nRUN true\n" });
    await expect(build(request(ctx, "test/missing:1"))).rejects.toThrow(/image "nowhere\/none:1" is not in the local image store/);
    const asked: string[] = [];
    await expect(buildImage({ stateDir, runDir, pull: async (ref) => void asked.push(ref) }, request(ctx, "test/missing:1"))).rejects.toThrow(/not in the local image store/);
    expect(asked).toEqual(["nowhere/none:1"]);
  });
});
