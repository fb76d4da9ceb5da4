// prestart (src/cli/prestart.ts): for the verbs that start containers, bin/stack
// starts a perl helper and the host reads before the CLI loads; the network
// host takes each early result once, and reads anew after that.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { prestart } from "../../../src/cli/prestart.js";
import { setEarlyStart, takeEarlyCommands, takeEarlyResult } from "../../../src/fs/early-start.js";
import { hostReadKey, readForwardFilterCommand, readRoutesCommand, readStackTableCommand } from "../../../src/network/host-reads.js";
import { LinuxNetworkHost } from "../../../src/network/host-system.js";
import { skipUnlessRoot } from "../../helpers/root.js";

afterEach(() => {
  (takeEarlyCommands() as { close?: () => void } | undefined)?.close?.();
  setEarlyStart(undefined);
});

describe("the early start", () => {
  it("is not made for a verb that creates no container", () => {
    for (const args of [["ps"], ["--progress", "quiet", "down"], ["logs", "-f"], ["config"], ["start"], ["restart", "web"]]) {
      prestart(args);
      expect(takeEarlyCommands()).toBeUndefined();
      expect(takeEarlyResult(hostReadKey(readRoutesCommand))).toBeUndefined();
    }
  });

  it("is not made while a stack bridge exists (an up of a project that is up makes no network)", () => {
    const net = mkdtempSync(join(tmpdir(), "stack-prestart-net-"));
    try {
      for (const name of ["lo", "eth0", "stk1a2b3c4d"]) mkdirSync(join(net, name));
      prestart(["up", "-d"], net);
      expect(takeEarlyCommands()).toBeUndefined();
      expect(takeEarlyResult(hostReadKey(readRoutesCommand))).toBeUndefined();
    } finally {
      rmSync(net, { recursive: true, force: true });
    }
  });

  it.skipIf(skipUnlessRoot("the early start's reads"))("for up on a host without stack bridges: a command helper, and the three host reads, each taken once", async () => {
    const net = mkdtempSync(join(tmpdir(), "stack-prestart-net-"));
    mkdirSync(join(net, "lo"));
    prestart(["--progress", "quiet", "up", "-d"], net);
    rmSync(net, { recursive: true, force: true });
    const routes = takeEarlyResult(hostReadKey(readRoutesCommand));
    const table = takeEarlyResult(hostReadKey(readStackTableCommand));
    const filter = takeEarlyResult(hostReadKey(readForwardFilterCommand));
    expect(takeEarlyResult(hostReadKey(readRoutesCommand))).toBeUndefined();
    const r = await routes!;
    expect(r.exitCode).toBe(0);
    // Two JSON arrays, IPv4 then IPv6: the host has at least its loopback route.
    expect(r.stdout.trim().split("\n").map((l) => Array.isArray(JSON.parse(l)))).toEqual([true, true]);
    expect([0, 1]).toContain((await table!).exitCode); // 1: no stack table yet
    expect((await filter!).exitCode).toBe(0);
    // The helper that ran them serves the CLI next, once.
    const commands = takeEarlyCommands();
    expect((await commands!.run(["sh", "-c", "echo served"])).stdout).toBe("served\n");
    expect(takeEarlyCommands()).toBeUndefined();
    (commands as unknown as { close(): void }).close();
  });

  /** A route listing (IPv4 then IPv6) with one route to `dst`, as `ip -j` prints it. */
  const routes = (dst: string) => ({ exitCode: 0, stdout: `[{"dst":"${dst}","dev":"eth9","table":"main"}]\n[]\n`, stderr: "" });

  /** A network host whose command runner lists one route to `dst` and records what it is asked to run. */
  function hostListing(dst: string): { host: LinuxNetworkHost; asked: string[][] } {
    const asked: string[][] = [];
    const host = new LinuxNetworkHost("/nonexistent-netns-dir", {
      commands: {
        run: async (argv) => {
          asked.push(argv);
          return routes(dst);
        },
      },
    });
    return { host, asked };
  }

  it("the network host uses an early read once, then reads again", async () => {
    setEarlyStart({ commands: null, results: new Map([[hostReadKey(readRoutesCommand), Promise.resolve(routes("10.77.0.0/16"))]]) });
    const { host, asked } = hostListing("10.88.0.0/16");
    expect((await host.readRoutes()).map((r) => r.dst)).toEqual(["10.77.0.0/16"]);
    expect(asked).toEqual([]);
    expect((await host.readRoutes()).map((r) => r.dst)).toEqual(["10.88.0.0/16"]);
    expect(asked).toEqual([readRoutesCommand.argv]);
  });

  it("an early read that failed (its helper died) is read again", async () => {
    const failed = Promise.reject(new Error("the perl helper ended (exit 9)"));
    failed.catch(() => undefined);
    setEarlyStart({ commands: null, results: new Map([[hostReadKey(readRoutesCommand), failed]]) });
    const { host, asked } = hostListing("10.99.0.0/16");
    expect((await host.readRoutes()).map((r) => r.dst)).toEqual(["10.99.0.0/16"]);
    expect(asked).toEqual([readRoutesCommand.argv]);
  });
});
