// Pure plans of the runtime: overlay mount, volumes, runtime choice, host limits, mount table.
import { describe, expect, test } from "vitest";
import { overlayMount } from "../../../src/runtime/overlay.js";
import { planVolumes, type VolumePlanInput } from "../../../src/runtime/volumes.js";
import { chooseRuntime } from "../../../src/runtime/oci-runtime.js";
import { parseProcLimits } from "../../../src/runtime/rlimits.js";
import { parseMountPoints } from "../../../src/runtime/mounter.js";
import { deviceNumbers, resolveDevice } from "../../../src/runtime/devices.js";
import type { ServiceModel, ServiceVolumeModel } from "../../../src/schema/model.js";
import { makeService } from "../../helpers/model.js";

describe("overlayMount", () => {
  test("lowerdirs top-most first, own upper and work", () => {
    expect(overlayMount(["/s/layers/b", "/s/layers/a"], "/c/upper", "/c/work", "/c/rootfs")).toEqual({
      type: "overlay",
      source: "overlay",
      target: "/c/rootfs",
      options: ["lowerdir=/s/layers/b:/s/layers/a", "upperdir=/c/upper", "workdir=/c/work"],
    });
  });
  const errors = [
    { name: "no layers", lower: [] as string[], message: /needs at least one image layer/ },
    { name: "a colon in a path", lower: ["/s/a:b"], message: /contains ":" or ","/ },
    { name: "options over one page", lower: Array.from({ length: 200 }, (_, i) => `/var/lib/stack/layers/${"x".repeat(20)}${i}`), message: /over the kernel's 4095/ },
  ];
  test.each(errors)("error: $name", ({ lower, message }) => {
    expect(() => overlayMount(lower, "/c/upper", "/c/work", "/c/rootfs")).toThrow(message);
  });
});

describe("planVolumes", () => {
  const base = (volumes: ServiceVolumeModel[], over: Partial<VolumePlanInput> = {}, svc: Partial<ServiceModel> = {}): VolumePlanInput => ({
    service: makeService("db", { volumes, ...svc }),
    volumeNames: { pgdata: "shop_pgdata" },
    stateDir: "/state",
    containerDir: "/state/projects/shop/containers/db-1",
    imageVolumes: [],
    volumesFrom: [],
    ...over,
  });
  test("bind (created when missing), named, anonymous, tmpfs, read-only", () => {
    const plan = planVolumes(
      base([
        { type: "bind", source: "/srv/app", target: "/app", read_only: true, bind: { create_host_path: true } },
        { type: "bind", source: "/srv/keep", target: "/keep", read_only: false, bind: { create_host_path: false, propagation: "rshared" } },
        { type: "volume", source: "pgdata", target: "/var/lib/postgresql/data", read_only: false, volume: { nocopy: false } },
        { type: "volume", target: "/cache", read_only: false, volume: { nocopy: true } },
        { type: "tmpfs", target: "/run", read_only: false, tmpfs: { size: 1048576, mode: 0o1777 } },
      ]),
    );
    expect(plan.createDirs).toEqual(["/srv/app"]);
    expect(plan.volumeDirs).toEqual([
      { dir: "/state/volumes/shop_pgdata/_data", target: "/var/lib/postgresql/data", copyFromImage: true },
      { dir: "/state/projects/shop/containers/db-1/volumes/cache/_data", target: "/cache", copyFromImage: false },
    ]);
    expect(plan.mounts).toEqual([
      { destination: "/app", type: "bind", source: "/srv/app", options: ["rbind", "ro", "rprivate"] },
      { destination: "/keep", type: "bind", source: "/srv/keep", options: ["rbind", "rw", "rshared"] },
      { destination: "/var/lib/postgresql/data", type: "bind", source: "/state/volumes/shop_pgdata/_data", options: ["rbind", "rw", "rprivate"] },
      { destination: "/cache", type: "bind", source: "/state/projects/shop/containers/db-1/volumes/cache/_data", options: ["rbind", "rw", "rprivate"] },
      { destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "rw", "size=1048576", "mode=1777"] },
    ]);
  });
  test("image VOLUMEs become anonymous volumes unless the service mounts there; volumes_from adds the other container's, read-only on request", () => {
    const plan = planVolumes(
      base([{ type: "volume", source: "pgdata", target: "/data", read_only: false, volume: { nocopy: false } }], {
        imageVolumes: ["/logs", "/data"],
        volumesFrom: [{ mounts: [{ destination: "/shared", type: "bind", source: "/state/volumes/shop_s/_data", options: ["rbind", "rw", "rprivate"] }], read_only: true }],
      }),
    );
    expect(plan.mounts.map((m) => [m.destination, m.options?.includes("ro") ? "ro" : "rw"])).toEqual([["/data", "rw"], ["/shared", "ro"], ["/logs", "rw"]]);
    expect(plan.volumeDirs.map((v) => v.target)).toEqual(["/data", "/logs"]);
  });
  test("errors: undeclared volume, relative target, unsupported type", () => {
    expect(() => planVolumes(base([{ type: "volume", source: "nope", target: "/x", read_only: false, volume: { nocopy: false } }]))).toThrow(/services\.db\.volumes: volume "nope" is not declared/);
    expect(() => planVolumes(base([{ type: "tmpfs", target: "x", read_only: false, tmpfs: {} }]))).toThrow(/target "x" is not absolute/);
    expect(() => planVolumes(base([{ type: "npipe", target: "/p", read_only: false }]))).toThrow(/volume type "npipe" at "\/p" is not supported/);
  });
});

describe("chooseRuntime", () => {
  const cases = [
    { name: "hybrid host: runc even when crun is installed", available: { runc: "/usr/sbin/runc", crun: "/usr/bin/crun" }, mode: "hybrid" as const, override: undefined, expected: "runc" },
    { name: "v2 host: crun first", available: { runc: "/usr/sbin/runc", crun: "/usr/bin/crun" }, mode: "v2" as const, override: undefined, expected: "crun" },
    { name: "override runc on v2", available: { runc: "/usr/sbin/runc", crun: "/usr/bin/crun" }, mode: "v2" as const, override: "runc", expected: "runc" },
    { name: "only runc", available: { runc: "/usr/sbin/runc" }, mode: "v1" as const, override: "", expected: "runc" },
  ];
  test.each(cases)("$name", ({ available, mode, override, expected }) => {
    expect(chooseRuntime(available, mode, override).name).toBe(expected);
  });
  const errors = [
    { name: "unknown override", available: { runc: "/r" }, mode: "v2" as const, override: "youki", message: /STACK_RUNTIME="youki" is not a supported runtime/ },
    { name: "override not installed", available: { runc: "/r" }, mode: "v2" as const, override: "crun", message: /crun is not installed/ },
    { name: "crun forced on a hybrid host", available: { crun: "/c" }, mode: "hybrid" as const, override: "crun", message: /crun refuses cgroup hybrid hosts/ },
    { name: "nothing installed", available: {}, mode: "v2" as const, override: undefined, message: /no usable OCI runtime/ },
  ];
  test.each(errors)("error: $name", ({ available, mode, override, message }) => {
    expect(() => chooseRuntime(available, mode, override)).toThrow(message);
  });
});

test("parseProcLimits reads /proc/<pid>/limits", () => {
  const text = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max cpu time              unlimited            unlimited            seconds   ",
    "Max processes             95368                95368                processes ",
    "Max open files            1024                 524288               files     ",
    "Max realtime timeout      unlimited            unlimited            us        ",
  ].join("\n");
  expect(parseProcLimits(text)).toEqual({
    cpu: { soft: Infinity, hard: Infinity },
    nproc: { soft: 95368, hard: 95368 },
    nofile: { soft: 1024, hard: 524288 },
    rttime: { soft: Infinity, hard: Infinity },
  });
});

test("parseMountPoints unescapes mountinfo paths", () => {
  const info = "36 35 98:0 / /mnt/with\\040blank rw,noatime master:1 - ext3 /dev/root rw\n37 35 0:5 / /proc rw - proc proc rw\n";
  expect(parseMountPoints(info)).toEqual(["/mnt/with blank", "/proc"]);
});

describe("devices", () => {
  const stat = { kind: "c" as const, rdev: 10 * 256 + 229, mode: 0o20666, uid: 0, gid: 5 };
  test("type, numbers, mode and owner from the host's device", () => {
    expect(resolveDevice("app", { source: "/dev/fuse", target: "/dev/f", permissions: "rw" }, stat)).toEqual({ path: "/dev/f", type: "c", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 5, permissions: "rw" });
  });
  test("large device numbers split like glibc", () => {
    expect(deviceNumbers(259 * 256 + 3)).toEqual({ major: 259, minor: 3 });
    expect(deviceNumbers(0x12345678)).toEqual({ major: 0x456, minor: 0x12378 });
  });
  const errors = [
    { name: "missing", stat: undefined, permissions: "rwm", message: /services\.app\.devices: host device "\/dev\/x" does not exist/ },
    { name: "not a device", stat: { ...stat, kind: "other" as const }, permissions: "rwm", message: /is not a character or block device/ },
    { name: "bad permissions", stat, permissions: "rx", message: /permissions "rx" for \/dev\/x are not valid/ },
  ];
  test.each(errors)("error: $name", ({ stat: s, permissions, message }) => {
    expect(() => resolveDevice("app", { source: "/dev/x", target: "/dev/x", permissions }, s)).toThrow(message);
  });
});
