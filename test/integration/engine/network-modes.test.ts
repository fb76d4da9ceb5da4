// network_mode none through the CLI: the runtime makes the namespace (only a
// loopback, up), no network-layer record or namespace is left to clean, the
// hosts file still carries extra_hosts, and a `service:X` of such a
// container joins the very same namespace. (And `ps` shows the image's CMD.)
import { afterEach, describe, expect, test } from "vitest";
import { skipUnlessRoot } from "../../helpers/root.js";
import { IMAGE, makeProject, type Project } from "./harness.js";

describe.skipIf(skipUnlessRoot("network mode tests"))("network_mode none", () => {
  let p: Project | undefined;
  afterEach(async () => {
    await p?.dispose();
    p = undefined;
  });

  test("a none container has only lo (up); a service:X sharer sees the same namespace; run --rm works too", async () => {
    p = await makeProject("netnone");
    p.write(`
services:
  lonely:
    image: ${IMAGE}
    init: true
    network_mode: none
    extra_hosts: ["db.example:10.9.8.7"]
    command: sleep 600
  sidecar:
    image: ${IMAGE}
    init: true
    network_mode: service:lonely
    depends_on: [lonely]
    command: sleep 600
  shell:
    image: ${IMAGE}
    network_mode: none
`);
    const up = await p.stack(["--progress", "plain", "up", "-d"]);
    expect(up.exitCode, up.stderr).toBe(0);
    const links = await p.stack(["exec", "-T", "lonely", "cat", "/proc/net/dev"]);
    expect(links.exitCode, links.stderr).toBe(0);
    const names = links.stdout.split("\n").slice(2).map((l) => l.split(":")[0]!.trim()).filter(Boolean);
    expect(names).toEqual(["lo"]);
    const ping = await p.stack(["exec", "-T", "lonely", "ping", "-c", "1", "-W", "2", "127.0.0.1"]);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0); // lo is up
    const hosts = await p.stack(["exec", "-T", "lonely", "cat", "/etc/hosts"]);
    expect(hosts.stdout).toContain("10.9.8.7\tdb.example");
    const nsOf = async (svc: string) => (await p!.stack(["exec", "-T", svc, "busybox", "readlink", "/proc/self/ns/net"])).stdout.trim();
    const [a, b] = [await nsOf("lonely"), await nsOf("sidecar")];
    expect(a).toMatch(/^net:\[\d+\]$/);
    expect(b).toBe(a);
    const netState = await p.stack(["exec", "-T", "sidecar", "cat", "/proc/net/dev"]);
    expect(netState.stdout).not.toMatch(/eth0/);
    // ps shows what runs, the image's CMD included (the shell service has no command: of its own).
    const ps = await p.stack(["ps", "-a", "--format", "json"]);
    const commands = Object.fromEntries(ps.stdout.trim().split("\n").map((l) => JSON.parse(l) as { Service: string; Command: string }).map((r) => [r.Service, r.Command]));
    expect(commands).toEqual({ lonely: "sleep 600", sidecar: "sleep 600", shell: "sh" });
    const run = await p.stack(["run", "--rm", "-T", "--no-deps", "lonely", "sed", "-n", "3,$ s/:.*//p", "/proc/net/dev"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("lo");
  });
});
