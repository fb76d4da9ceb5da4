// A `run --rm` container's overlay is volatile (no sync of the host's disk
// at unmount); a kernel that refuses the option gets the plain overlay.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { ContainerRuntime } from "../../../src/runtime/container.js";
import { OciRuntime } from "../../../src/runtime/oci-runtime.js";
import { overlayMount, type MountDescription } from "../../../src/runtime/overlay.js";
import { makeService } from "../../helpers/model.js";
import { FakeCgroupFs, FakeMounter, FakeRunner } from "./fakes.js";

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
  const runtimeWith = (mounter: FakeMounter) => {
    const base = mkdtempSync(join(tmpdir(), "stack-rt-volatile-"));
    bases.push(base);
    const runner = new FakeRunner(() => ({}), () => undefined);
    return new ContainerRuntime({
      stateDir: join(base, "state"),
      runDir: join(base, "run"),
      cgroupRoot: "/cg",
      cgroupVersion: 1,
      cgroupFs: new FakeCgroupFs({}, ["/cg", "/cg/memory", "/cg/pids"]),
      mounter,
      runner,
      runtime: new OciRuntime(runner, { name: "runc", binary: "/usr/sbin/runc" }, join(base, "run", "runc")),
      signal: () => undefined,
      sleep: async () => undefined,
      hostRlimits: {},
      arch: "x64",
      statDevice: () => undefined,
    });
  };
  const create = (rt: ContainerRuntime, id: string, ephemeral?: boolean) =>
    rt.create({ project: "p", id, service: makeService("web"), image: { Cmd: ["true"] }, lowerdirs: ["/layers/a"], network: { mode: "none" }, ...(ephemeral === undefined ? {} : { ephemeral }) });

  test("mounts volatile when ephemeral, plain otherwise", async () => {
    const mounter = new FakeMounter();
    const rt = runtimeWith(mounter);
    await create(rt, "once", true);
    await create(rt, "kept");
    expect(mounter.mounted.map((m) => m.options.includes("volatile"))).toEqual([true, false]);
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
    const rt = runtimeWith(mounter);
    const h = await create(rt, "old-kernel", true);
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
    await expect(create(runtimeWith(mounter), "kept")).rejects.toThrow("No such device");
    expect(calls).toBe(1);
  });
});
