// SupervisorLaunch through a DaemonLauncher (the perl helper in an `up -d`),
// with a stand-in launcher: what it is asked for, the lock it leaves, and a
// launch that fails.
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { claimSupervisorStart, SupervisorLaunch, type DaemonLauncher } from "../../../src/supervisor/client.js";
import { supervisorPaths } from "../../../src/supervisor/paths.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-launcher-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A launcher that records its calls; `fail` makes daemon() reject. */
function standIn(fail?: Error) {
  const calls: string[] = [];
  let next = 40;
  const launcher: DaemonLauncher = {
    async bindUdp(address, port) {
      calls.push(`bind ${address}:${port}`);
      return next++;
    },
    async closeFds(fds) {
      calls.push(`close ${fds.join(",")}`);
    },
    async daemon(log, fifos, fds, argv) {
      calls.push(`daemon ${log} [${fifos.join(" ")}] [${fds.join(",")}] ${argv.slice(1).join(" ")}`);
      if (fail) throw fail;
      return 4242;
    },
  };
  return { launcher, calls };
}

async function claim(launcher: DaemonLauncher): Promise<SupervisorLaunch> {
  const c = await claimSupervisorStart("p", join(dir, "state"), join(dir, "run"), { entry: "/x/main.js", launcher });
  if (!(c instanceof SupervisorLaunch)) throw new Error("a supervisor answered");
  return c;
}

test("the launcher binds the DNS sockets, gets the FIFOs' paths and the sockets' numbers, and the lock then names its daemon", async () => {
  const { launcher, calls } = standIn();
  const launch = await claim(launcher);
  await launch.reserveDns([{ address: "10.9.0.1", port: 53 }], () => Promise.reject(new Error("not here: the launcher binds")));
  const fifo = join(dir, "out.fifo");
  writeFileSync(fifo, "");
  const fd = openSync(fifo, "r");
  launch.hold([fd], [fifo]);
  await launch.launch();
  const paths = supervisorPaths(join(dir, "run"), "p");
  expect(calls).toEqual([
    "bind 10.9.0.1:53",
    `daemon ${paths.log} [${fifo}] [40] /x/main.js --project p --state-dir ${join(dir, "state")} --run-dir ${join(dir, "run")} --inherited-dns [{"address":"10.9.0.1","port":53,"protocol":"udp","fd":40}]`,
  ]);
  expect(readFileSync(paths.lock, "utf8")).toBe("4242\n");
  expect(() => readFileSync(`/proc/self/fd/${fd}`)).toThrow(); // this process's end is closed
});

test("a launch that fails says so, naming the log, with the lock released and the sockets closed; a bind that fails closes the ones made", async () => {
  const { launcher, calls } = standIn(new Error("No such file or directory"));
  const launch = await claim(launcher);
  await launch.reserveDns([{ address: "10.9.0.1", port: 53 }], () => Promise.reject(new Error("unused")));
  const paths = supervisorPaths(join(dir, "run"), "p");
  await expect(launch.launch()).rejects.toThrow(`cannot start the supervisor of project p: No such file or directory`);
  expect(existsSync(paths.lock)).toBe(false);
  expect(calls.at(-1)).toBe("close 40");

  const failing: DaemonLauncher = { ...launcher, bindUdp: async (address) => (address === "10.9.1.1" ? Promise.reject(new Error("Address already in use")) : 50) };
  const second = await claimSupervisorStart("q", join(dir, "state"), join(dir, "run"), { entry: "/x/main.js", launcher: failing });
  if (!(second instanceof SupervisorLaunch)) throw new Error("a supervisor answered");
  await expect(second.reserveDns([{ address: "10.9.0.1", port: 53 }, { address: "10.9.1.1", port: 53 }], () => Promise.reject(new Error("unused")))).rejects.toThrow(
    "embedded DNS: cannot bind 10.9.0.1:53, 10.9.1.1:53/udp: Address already in use",
  );
  expect(calls.at(-1)).toBe("close 50");
});
