// A `run --rm` container's overlay is volatile (no sync of the host's disk
// at unmount) and, when create can read what it needs from the layers, the
// OCI runtime mounts it (a spec mount at "/"); else it is mounted on the
// host, where a kernel that refuses the option gets the plain overlay.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { ContainerRuntime } from "../../../src/runtime/container.js";
import type { OciSpec } from "../../../src/runtime/oci-spec.js";
import { overlayMount, type MountDescription } from "../../../src/runtime/overlay.js";
import { makeService } from "../../helpers/model.js";
import { FakeMounter, FakeRunner, fakeRuntimeDeps } from "./fakes.js";

describe("overlayMount volatile", () => {
  const cases = [
    { name: "plain", volatile: undefined, expected: ["lowerdir=/l/b:/l/a", "upperdir=/c/upper", "workdir=/c/work"] },
    { name: "volatile", volatile: true, expected: ["lowerdir=/l/b:/l/a", "upperdir=/c/upper", "workdir=/c/work", "volatile"] },
    { name: "not volatile", volatile: false, expected: ["lowerdir=/l/b:/l/a", "upperdir=/c/upper", "workdir=/c/work"] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      expect(overlayMount(["/l/b", "/l/a"], "/c/upper", "/c/work", "/c/rootfs", c.volatile === undefined ? {} : { volatile: c.volatile }).options).toEqual(c.expected);
    });
  }
});

describe("create of an ephemeral container", () => {
  const bases: string[] = [];
  afterEach(() => {
    for (const b of bases.splice(0)) rmSync(b, { recursive: true, force: true });
  });
  const runtimeWith = (mounter: FakeMounter, overlayVolatile = true) => {
    const base = mkdtempSync(join(tmpdir(), "stack-rt-volatile-"));
    bases.push(base);
    // One layer the runtime can read /etc/passwd from, and a pair where it cannot tell
    // (the top layer has /etc but no passwd: its /etc may be opaque).
    const single = join(base, "layers", "single");
    mkdirSync(join(single, "etc"), { recursive: true });
    writeFileSync(join(single, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
    const top = join(base, "layers", "top");
    mkdirSync(join(top, "etc"), { recursive: true });
    const runner = new FakeRunner(() => ({}), () => undefined);
    const rt = new ContainerRuntime(fakeRuntimeDeps(base, runner, { mounter, overlayVolatile }));
    return { rt, readable: [single], unreadable: [top, single] };
  };
  const create = (rt: ContainerRuntime, id: string, lowerdirs: string[], ephemeral?: boolean, user?: string) =>
    rt.create({ project: "p", id, service: { ...makeService("web"), ...(user ? { user } : {}) }, image: { Cmd: ["true"] }, lowerdirs, network: { mode: "none" }, ...(ephemeral === undefined ? {} : { ephemeral }) });
  const specOf = (h: { dir: string }) => JSON.parse(readFileSync(join(h.dir, "config.json"), "utf8")) as OciSpec;

  test("an ephemeral container's overlay is mounted by the OCI runtime, volatile, with the user read from the layers", async () => {
    const mounter = new FakeMounter();
    const { rt, readable } = runtimeWith(mounter);
    const h = await create(rt, "once", readable, true, "app");
    expect(mounter.mounted).toEqual([]);
    const spec = specOf(h);
    expect(spec.root.path).toBe(h.rootfs);
    expect(spec.mounts[0]).toEqual({ destination: "/", type: "overlay", source: "overlay", options: [`lowerdir=${readable[0]}`, `upperdir=${h.dir}/upper`, `workdir=${h.dir}/work`, "volatile"] });
    expect(spec.process.user).toEqual({ uid: 1000, gid: 1000 });
    expect(h.layers).toEqual(readable);
    expect(existsSync(h.stdoutFifo)).toBe(false);
  });

  test("without volatile on an older kernel", async () => {
    const { rt, readable } = runtimeWith(new FakeMounter(), false);
    const h = await create(rt, "old", readable, true);
    expect(specOf(h).mounts[0]!.options).not.toContain("volatile");
  });

  test("a kept container, and an ephemeral one whose layers cannot tell its user, get a host mount", async () => {
    const mounter = new FakeMounter();
    const { rt, readable, unreadable } = runtimeWith(mounter);
    const kept = await create(rt, "kept", readable);
    const unsure = await create(rt, "unsure", unreadable, true);
    expect(mounter.mounted.map((m) => [m.target, m.options.includes("volatile")])).toEqual([[kept.rootfs, false], [unsure.rootfs, true]]);
    expect(specOf(kept).mounts[0]!.destination).toBe("/proc");
    expect(kept.layers).toBeUndefined();
  });

  test("an unknown user name is still an error when the layers answer", async () => {
    const { rt, readable } = runtimeWith(new FakeMounter());
    await expect(create(rt, "nobody", readable, true, "ghost")).rejects.toThrow(/services\.web\.user: unable to find user "ghost"/);
  });

  test("falls back to the plain overlay when the kernel refuses volatile", async () => {
    const mounter = new FakeMounter();
    const tried: MountDescription[] = [];
    const mount = mounter.mount.bind(mounter);
    mounter.mount = async (m, fifos) => {
      tried.push(m);
      if (m.options.includes("volatile")) {
        await mount({ ...m, target: "/nowhere" }, fifos); // the FIFOs are made before the mount fails
        mounter.mounted.pop();
        throw new Error("cannot mount overlay: Invalid argument");
      }
      await mount(m, fifos);
    };
    const { rt, unreadable } = runtimeWith(mounter);
    const h = await create(rt, "old-kernel", unreadable, true);
    expect(tried.map((m) => m.options.includes("volatile"))).toEqual([true, false]);
    expect(mounter.mounted).toEqual([expect.objectContaining({ target: h.rootfs })]);
  });

  test("a failing plain mount is not retried", async () => {
    const mounter = new FakeMounter();
    let calls = 0;
    mounter.mount = async () => {
      calls++;
      throw new Error("cannot mount overlay: No such device");
    };
    await expect(create(runtimeWith(mounter).rt, "kept", ["/layers/a"])).rejects.toThrow("No such device");
    expect(calls).toBe(1);
  });
});
