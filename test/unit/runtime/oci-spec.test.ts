import { describe, expect, test } from "vitest";
import { buildSpec, INIT_PATH, type SpecInput } from "../../../src/runtime/oci-spec.js";
import type { ImageConfig } from "../../../src/runtime/image-config.js";
import type { ServiceModel } from "../../../src/schema/model.js";
import { ALL_CAPABILITIES, capabilitiesOfMask, DEFAULT_CAPABILITIES, everyCapability } from "../../../src/runtime/capabilities.js";
import { makeService } from "../../helpers/model.js";
import { ociConfigValidator } from "./oci-schema.js";

const validate = ociConfigValidator();

function input(over: Partial<ServiceModel> = {}, image: ImageConfig = { Cmd: ["sh"] }, extra: Partial<SpecInput> = {}): SpecInput {
  return {
    service: makeService("web", over),
    image,
    user: { uid: 0, gid: 0, additionalGids: [], home: "/root", name: "root" },
    rootfs: "/state/projects/p/containers/c1/rootfs",
    network: { mode: "path", path: "/run/netns/stack-p-1" },
    hostname: "c1",
    etcFiles: { resolvConf: "/state/c1/resolv.conf", hosts: "/state/c1/hosts" },
    volumeMounts: [],
    hostRlimits: { nofile: { soft: 1024, hard: 524288 }, nproc: { soft: 1000, hard: 2000 } },
    cgroupsPath: "/stack/p/c1",
    devices: [],
    initBinary: "/usr/bin/tini-static",
    arch: "x64",
    ...extra,
  };
}

/** Builds and checks against the OCI schema: every spec in this file is validated. */
function build(i: SpecInput) {
  const built = buildSpec(i);
  expect(validate(built.spec)).toEqual([]);
  return built;
}

describe("entrypoint and command, as Docker combines them", () => {
  const cases: Array<{ name: string; service: Partial<ServiceModel>; image: ImageConfig; args: string[] }> = [
    { name: "image defaults", service: {}, image: { Entrypoint: ["/entry"], Cmd: ["run"] }, args: ["/entry", "run"] },
    { name: "command replaces Cmd", service: { command: ["serve", "--port", "80"] }, image: { Entrypoint: ["/entry"], Cmd: ["run"] }, args: ["/entry", "serve", "--port", "80"] },
    { name: "entrypoint resets the image Cmd", service: { entrypoint: ["/other"] }, image: { Entrypoint: ["/entry"], Cmd: ["run"] }, args: ["/other"] },
    { name: "entrypoint and command", service: { entrypoint: "/other -x", command: "a 'b c'" }, image: { Entrypoint: ["/entry"], Cmd: ["run"] }, args: ["/other", "-x", "a", "b c"] },
    { name: "shell string split with quotes", service: { command: `sh -c "echo \\"hi there\\""` }, image: {}, args: ["sh", "-c", 'echo "hi there"'] },
    { name: "empty entrypoint keeps command", service: { entrypoint: [], command: ["ls"] }, image: { Entrypoint: ["/entry"], Cmd: ["run"] }, args: ["ls"] },
    { name: "null image fields", service: { command: ["true"] }, image: { Entrypoint: null, Cmd: null }, args: ["true"] },
  ];
  test.each(cases)("$name", ({ service, image, args }) => {
    expect(build(input(service, image)).spec.process.args).toEqual(args);
  });

  test("no command at all is an error naming the service", () => {
    expect(() => buildSpec(input({}, {}))).toThrow(/services\.web: no command to run/);
    expect(() => buildSpec(input({ entrypoint: [] }, { Cmd: ["x"] }))).toThrow(/no command to run/);
  });

  test("an unterminated quote is an error with the setting's path", () => {
    expect(() => buildSpec(input({ command: "echo 'oops" }))).toThrow(/services\.web\.command: .*unterminated single quote/);
  });

  test("init: true puts tini in front, bind-mounted read-only", () => {
    const { spec } = build(input({ init: true, command: ["app"] }));
    expect(spec.process.args).toEqual([INIT_PATH, "--", "app"]);
    expect(spec.mounts).toContainEqual({ destination: INIT_PATH, type: "bind", source: "/usr/bin/tini-static", options: ["bind", "ro", "nosuid", "nodev"] });
    expect(() => buildSpec(input({ init: true }, { Cmd: ["x"] }, { initBinary: undefined }))).toThrow(/init: no init binary/);
  });
});

describe("environment", () => {
  test("image ENV, then the service's environment; null unsets; defaults for PATH, HOSTNAME, HOME", () => {
    const { spec } = build(
      input({ environment: { A: "service", C: "new", DROP: null } }, { Cmd: ["x"], Env: ["A=image", "B=image", "DROP=x", "PATH=/img/bin"] }),
    );
    expect(spec.process.env).toEqual(["HOSTNAME=c1", "A=service", "B=image", "PATH=/img/bin", "C=new", "HOME=/root"]);
  });
  test("default PATH when nobody sets one; HOME from the service wins", () => {
    const { spec } = build(input({ environment: { HOME: "/srv" } }));
    expect(spec.process.env[0]).toBe("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(spec.process.env).toContain("HOME=/srv");
    expect(spec.process.env.filter((e) => e.startsWith("HOME="))).toHaveLength(1);
  });
});

describe("working dir, user, hostname", () => {
  test("working_dir over the image's WorkingDir over /", () => {
    expect(build(input({}, { Cmd: ["x"], WorkingDir: "/app" })).spec.process.cwd).toBe("/app");
    expect(build(input({ working_dir: "/srv" }, { Cmd: ["x"], WorkingDir: "/app" })).spec.process.cwd).toBe("/srv");
    expect(build(input()).spec.process.cwd).toBe("/");
    expect(() => buildSpec(input({ working_dir: "rel" }))).toThrow(/services\.web\.working_dir: "rel" is not an absolute path/);
  });
  test("the resolved user, with its groups; a non-root user starts without effective capabilities", () => {
    const { spec } = build(input({}, { Cmd: ["x"] }, { user: { uid: 1000, gid: 1000, additionalGids: [50], home: "/home/app" } }));
    expect(spec.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [50] });
    expect(spec.process.capabilities.effective).toEqual([]);
    expect(spec.process.capabilities.bounding).toEqual(DEFAULT_CAPABILITIES);
    expect(spec.process.env).toContain("HOME=/home/app");
  });
  test("hostname and domainname; host network shares the host's name", () => {
    const own = build(input({ domainname: "example.test" })).spec;
    expect(own.hostname).toBe("c1");
    expect(own.domainname).toBe("example.test");
    expect(own.linux.namespaces).toContainEqual({ type: "uts" });
    const host = build(input({}, { Cmd: ["x"] }, { network: { mode: "host" } })).spec;
    expect(host.hostname).toBeUndefined();
    expect(host.linux.namespaces.map((n) => n.type)).toEqual(["mount", "pid", "ipc"]);
  });
});

describe("namespaces", () => {
  const cases = [
    { name: "prepared netns", network: { mode: "path" as const, path: "/run/netns/stack-p-1" }, expected: { type: "network", path: "/run/netns/stack-p-1" } },
    { name: "none: an empty netns", network: { mode: "none" as const }, expected: { type: "network" } },
    { name: "another container's", network: { mode: "path" as const, path: "/proc/42/ns/net" }, expected: { type: "network", path: "/proc/42/ns/net" } },
  ];
  test.each(cases)("$name", ({ network, expected }) => {
    expect(build(input({}, { Cmd: ["x"] }, { network })).spec.linux.namespaces).toContainEqual(expected);
  });
  test("pid: host and ipc: host leave those namespaces out", () => {
    const types = build(input({ pid: "host", ipc: "host" })).spec.linux.namespaces.map((n) => n.type);
    expect(types).not.toContain("pid");
    expect(types).not.toContain("ipc");
  });
});

describe("capabilities and privileges", () => {
  const cases: Array<{ name: string; add: string[]; drop: string[]; has: string[]; lacks: string[]; count?: number }> = [
    { name: "defaults", add: [], drop: [], has: ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"], lacks: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"], count: 14 },
    { name: "add and drop, any spelling", add: ["net_admin", "CAP_SYS_PTRACE"], drop: ["MKNOD"], has: ["CAP_NET_ADMIN", "CAP_SYS_PTRACE"], lacks: ["CAP_MKNOD"], count: 15 },
    { name: "drop ALL, add one", add: ["NET_BIND_SERVICE"], drop: ["ALL"], has: ["CAP_NET_BIND_SERVICE"], lacks: ["CAP_CHOWN"], count: 1 },
    { name: "add ALL, drop one", add: ["ALL"], drop: ["SYS_ADMIN"], has: ["CAP_SYS_MODULE"], lacks: ["CAP_SYS_ADMIN"] },
  ];
  test.each(cases)("$name", ({ add, drop, has, lacks, count }) => {
    const caps = build(input({ cap_add: add, cap_drop: drop })).spec.process.capabilities.bounding;
    for (const c of has) expect(caps).toContain(c);
    for (const c of lacks) expect(caps).not.toContain(c);
    if (count !== undefined) expect(caps).toHaveLength(count);
  });
  test("an unknown capability is an error", () => {
    expect(() => buildSpec(input({ cap_add: ["FLY"] }))).toThrow(/services\.web\.cap_add: unknown capability "FLY"/);
  });
  test("default: masked and read-only /proc paths, seccomp allow-list with EPERM default", () => {
    const { spec } = build(input());
    expect(spec.linux.maskedPaths).toContain("/proc/kcore");
    expect(spec.linux.readonlyPaths).toContain("/proc/sys");
    expect(spec.linux.seccomp?.defaultAction).toBe("SCMP_ACT_ERRNO");
    const allowed = spec.linux.seccomp!.syscalls[0]!.names;
    expect(allowed).toContain("read");
    expect(allowed).not.toContain("mount");
    expect(allowed).not.toContain("kexec_load");
    expect(spec.linux.resources.devices).toEqual([{ allow: false, access: "rwm" }]);
  });
  test("cap_add SYS_ADMIN brings the calls it guards", () => {
    expect(build(input({ cap_add: ["SYS_ADMIN"] })).spec.linux.seccomp!.syscalls[0]!.names).toContain("mount");
  });
  test("privileged: every capability, no masks, no seccomp, all devices, writable /sys", () => {
    const { spec } = build(input({ privileged: true }));
    expect(spec.process.capabilities.bounding).toContain("CAP_SYS_ADMIN");
    expect(spec.linux.maskedPaths).toBeUndefined();
    expect(spec.linux.seccomp).toBeUndefined();
    expect(spec.linux.resources.devices).toEqual([{ allow: true, access: "rwm" }]);
    expect(spec.mounts.find((m) => m.destination === "/sys")!.options).not.toContain("ro");
  });
  test("privileged and cap_add ALL: every capability the host's bounding set holds, no more", () => {
    const host = capabilitiesOfMask("000001fffeffffff")!; // bit 24, CAP_SYS_RESOURCE, withheld
    expect(host).toHaveLength(40);
    expect(host).not.toContain("CAP_SYS_RESOURCE");
    expect(host).toContain("CAP_CHECKPOINT_RESTORE");
    const privileged = build(input({ privileged: true }, undefined, { hostCapabilities: host })).spec.process.capabilities;
    expect(privileged.bounding).toEqual(everyCapability(host));
    expect(privileged.bounding).toHaveLength(40);
    expect(privileged.effective).toEqual(privileged.bounding);
    const all = build(input({ cap_add: ["ALL"], cap_drop: ["NET_ADMIN"] }, undefined, { hostCapabilities: host })).spec.process.capabilities.bounding;
    expect(all).not.toContain("CAP_SYS_RESOURCE");
    expect(all).not.toContain("CAP_NET_ADMIN");
    expect(all).toHaveLength(39);
    // Without a bounding set read: every capability stack knows.
    expect(build(input({ privileged: true })).spec.process.capabilities.bounding).toEqual([...ALL_CAPABILITIES]);
  });
  test.each([["", undefined], ["zz", undefined], ["0", []], ["3", ["CAP_CHOWN", "CAP_DAC_OVERRIDE"]]])("capabilitiesOfMask(%j)", (hex, caps) => {
    expect(capabilitiesOfMask(hex)).toEqual(caps);
  });
  const opts: Array<{ name: string; opt: string[]; nnp: boolean; seccomp: boolean; warnings: number }> = [
    { name: "no-new-privileges", opt: ["no-new-privileges"], nnp: true, seccomp: true, warnings: 0 },
    { name: "no-new-privileges:true", opt: ["no-new-privileges:true"], nnp: true, seccomp: true, warnings: 0 },
    { name: "no-new-privileges=false", opt: ["no-new-privileges=false"], nnp: false, seccomp: true, warnings: 0 },
    { name: "seccomp=unconfined", opt: ["seccomp=unconfined"], nnp: false, seccomp: false, warnings: 0 },
    { name: "apparmor is accepted with a warning", opt: ["apparmor=unconfined"], nnp: false, seccomp: true, warnings: 1 },
  ];
  test.each(opts)("security_opt $name", ({ opt, nnp, seccomp, warnings }) => {
    const built = build(input({ security_opt: opt }));
    expect(built.spec.process.noNewPrivileges ?? false).toBe(nnp);
    expect(built.spec.linux.seccomp !== undefined).toBe(seccomp);
    expect(built.warnings).toHaveLength(warnings);
  });
  test("bad security_opt values are errors", () => {
    expect(() => buildSpec(input({ security_opt: ["seccomp=/x.json"] }))).toThrow(/only "seccomp=unconfined"/);
    expect(() => buildSpec(input({ security_opt: ["no-new-privileges:maybe"] }))).toThrow(/bad value/);
    expect(() => buildSpec(input({ security_opt: ["foo"] }))).toThrow(/unknown option "foo"/);
  });
});

describe("filesystem", () => {
  test("read_only root, and the /etc files bind-mounted read-only with it", () => {
    const { spec } = build(input({ read_only: true }));
    expect(spec.root).toEqual({ path: "/state/projects/p/containers/c1/rootfs", readonly: true });
    expect(spec.mounts.find((m) => m.destination === "/etc/hosts")!.options).toContain("ro");
  });
  test("shm_size sizes /dev/shm (default 64 MiB)", () => {
    expect(build(input()).spec.mounts.find((m) => m.destination === "/dev/shm")!.options).toContain("size=67108864");
    expect(build(input({ shm_size: 1 << 30 })).spec.mounts.find((m) => m.destination === "/dev/shm")!.options).toContain("size=1073741824");
  });
  test("tmpfs entries with options; volumes sorted parents first", () => {
    const { spec } = build(
      input({ tmpfs: ["/run", "/cache:size=1m,mode=1777"] }, { Cmd: ["x"] }, {
        volumeMounts: [
          { destination: "/data/sub", type: "bind", source: "/v/sub", options: ["rbind", "rw"] },
          { destination: "/data", type: "bind", source: "/v/data", options: ["rbind", "ro"] },
        ],
      }),
    );
    const dests = spec.mounts.map((m) => m.destination);
    expect(dests.slice(-4)).toEqual(["/cache", "/data", "/run", "/data/sub"]);
    expect(spec.mounts.find((m) => m.destination === "/cache")!.options).toEqual(["nosuid", "nodev", "noexec", "size=1m", "mode=1777"]);
  });
  test("two mounts at one path, or a relative tmpfs, are errors", () => {
    expect(() => buildSpec(input({ tmpfs: ["/a"] }, { Cmd: ["x"] }, { volumeMounts: [{ destination: "/a", type: "bind", source: "/x" }] }))).toThrow(/two mounts at "\/a"/);
    expect(() => buildSpec(input({ tmpfs: ["rel"] }))).toThrow(/tmpfs: "rel" is not an absolute path/);
  });
  test("devices: created in the container and allowed in the device cgroup", () => {
    const { spec } = build(input({}, { Cmd: ["x"] }, { devices: [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0, permissions: "rw" }] }));
    expect(spec.linux.devices).toEqual([{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
    expect(spec.linux.resources.devices).toContainEqual({ allow: true, type: "c", major: 10, minor: 229, access: "rw" });
  });
});

describe("limits and kernel settings", () => {
  test("ulimits within the host's hard limit pass through; above it they are clamped with a warning", () => {
    const { spec, warnings } = build(input({ ulimits: { nofile: { soft: 1024, hard: 1048576 }, nproc: { soft: 100, hard: 200 }, core: { soft: -1, hard: -1 } } }));
    expect(spec.process.rlimits).toEqual([
      { type: "RLIMIT_CORE", soft: 18446744073709551615, hard: 18446744073709551615 },
      { type: "RLIMIT_NOFILE", soft: 1024, hard: 524288 },
      { type: "RLIMIT_NPROC", soft: 100, hard: 200 },
    ]);
    expect(warnings).toEqual([expect.stringMatching(/ulimits\.nofile: hard limit 1048576 is above this host's hard limit 524288; using 524288/)]);
  });
  test("soft above the host's hard limit is lowered with it", () => {
    const { spec } = build(input({ ulimits: { nproc: { soft: 5000, hard: 5000 } } }));
    expect(spec.process.rlimits).toEqual([{ type: "RLIMIT_NPROC", soft: 2000, hard: 2000 }]);
  });
  test("bad ulimits are errors", () => {
    expect(() => buildSpec(input({ ulimits: { files: { soft: 1, hard: 1 } } }))).toThrow(/unknown ulimit "files"/);
    expect(() => buildSpec(input({ ulimits: { nofile: { soft: 10, hard: 5 } } }))).toThrow(/soft limit 10 is above the hard limit 5/);
  });
  test("sysctls sorted, oom_score_adj, cgroupsPath, no resources but the device rules", () => {
    const { spec } = build(input({ sysctls: { "net.ipv4.ip_forward": "1", "kernel.msgmax": "65536" }, oom_score_adj: 500, mem_limit: 1 << 26 }));
    expect(Object.keys(spec.linux.sysctl!)).toEqual(["kernel.msgmax", "net.ipv4.ip_forward"]);
    expect(spec.process.oomScoreAdj).toBe(500);
    expect(spec.linux.cgroupsPath).toBe("/stack/p/c1");
    expect(Object.keys(spec.linux.resources)).toEqual(["devices"]);
    expect(spec.process.terminal).toBe(false);
  });
});

test("the schema oracle does reject a broken config", () => {
  const { spec } = buildSpec(input());
  expect(validate({ ...spec, ociVersion: 1 })).not.toEqual([]);
  expect(validate({ ...spec, mounts: [{ destination: "/x" }] })).not.toEqual([]);
  expect(validate({ ...spec, process: { ...spec.process, rlimits: [{ type: "nofile", soft: 1, hard: 1 }] } })).not.toEqual([]);
});

describe("a root filesystem the OCI runtime mounts", () => {
  const overlay = { destination: "/", type: "overlay", source: "overlay", options: ["lowerdir=/l/a", "upperdir=/c/upper", "workdir=/c/work", "volatile"] };

  test("is the first mount, at /, over the empty root folder; the other mounts follow unchanged", () => {
    const plain = build(input({ read_only: true, tmpfs: ["/run"] })).spec;
    const spec = build(input({ read_only: true, tmpfs: ["/run"] }, { Cmd: ["sh"] }, { rootMount: { ...overlay, destination: "/ignored" } })).spec;
    expect(spec.mounts[0]).toEqual(overlay);
    expect(spec.mounts.slice(1)).toEqual(plain.mounts);
    expect(spec.root).toEqual(plain.root);
  });
});
