// The things doctor really tries, each in its own temporary place and undone
// before it returns: an overlay mount, a container run by the OCI runtime, a
// network namespace, an nft listing. They go through the runtime layer's own
// API (openRuntime, overlayMount, CommandMounter) so they fail where stack
// would.
import { execa } from "execa";
import { closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openRuntime } from "../runtime/index.js";
import { CommandMounter } from "../runtime/mounter.js";
import { realCommandRunner } from "../fs/command-runner.js";
import { overlayMount } from "../runtime/overlay.js";
import { normalizeStack } from "../schema/normalize.js";
import type { ProbeOutcome } from "./facts.js";

function message(e: unknown): string {
  const err = e as { stderr?: string; shortMessage?: string; message?: string; hint?: string };
  const text = (err.stderr || err.shortMessage || err.message || String(e)).trim();
  return text.split("\n").slice(0, 3).join(" ");
}

async function timed(run: () => Promise<void>): Promise<ProbeOutcome> {
  const t0 = performance.now();
  try {
    await run();
    return { ok: true, ms: Math.round(performance.now() - t0) };
  } catch (e) {
    return { ok: false, error: message(e) };
  }
}

/** Mounts a one-file overlay under `baseDir`, reads the file through it, unmounts. */
export function probeOverlay(baseDir: string): Promise<ProbeOutcome> {
  const dir = mkdtempSync(join(baseDir, "overlay-"));
  const mounter = new CommandMounter(realCommandRunner);
  const merged = join(dir, "merged");
  return timed(async () => {
    try {
      for (const d of ["lower", "upper", "work", "merged"]) mkdirSync(join(dir, d));
      writeFileSync(join(dir, "lower", "probe"), "stack-doctor\n");
      await mounter.mount(overlayMount([join(dir, "lower")], join(dir, "upper"), join(dir, "work"), merged));
      try {
        if (readFileSync(join(merged, "probe"), "utf8") !== "stack-doctor\n") throw new Error("the lower dir's file reads differently through the overlay");
        writeFileSync(join(merged, "written"), "x");
      } finally {
        await mounter.unmount(merged);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** The static binary the test container runs: busybox's `true`, else tini-static's `--version`. */
export interface ProbeBinary {
  path: string;
  kind: "busybox" | "tini";
}

function readNonBlocking(fd: number): string {
  const buf = Buffer.alloc(16384);
  try {
    const n = readSync(fd, buf, 0, buf.length, null);
    return buf.subarray(0, n).toString("utf8").trim();
  } catch {
    return ""; // EAGAIN: nothing written
  }
}

/**
 * Creates, starts, waits for and removes one container through the runtime
 * API, in its own state and run dirs under `baseDir` (removed afterwards),
 * as project `project`. The rootfs is one layer holding the static binary.
 */
export async function probeContainer(baseDir: string, project: string, binary: ProbeBinary, runtimeOverride?: string): Promise<ProbeOutcome> {
  const dir = mkdtempSync(join(baseDir, "runtime-"));
  const layer = join(dir, "layer");
  let argv: string[];
  if (binary.kind === "busybox") {
    mkdirSync(join(layer, "bin"), { recursive: true });
    copyFileSync(binary.path, join(layer, "bin", "busybox"));
    symlinkSync("busybox", join(layer, "bin", "true"));
    argv = ["/bin/true"];
  } else {
    mkdirSync(join(layer, "sbin"), { recursive: true });
    copyFileSync(binary.path, join(layer, "sbin", "tini"));
    argv = ["/sbin/tini", "--version"];
  }
  const runtime = openRuntime({ stateDir: join(dir, "state"), runDir: join(dir, "run"), ...(runtimeOverride ? { runtimeOverride } : {}) });
  const { model } = normalizeStack({
    name: project,
    projectDir: dir,
    files: [],
    profiles: [],
    doc: { services: { probe: { image: "stack-doctor-probe", command: argv, network_mode: "none" } } },
    env: {},
    readEnvFile: () => undefined,
  });
  return timed(async () => {
    try {
      const h = await runtime.create({ project, id: "probe", service: model.services.probe!, image: {}, lowerdirs: [layer], network: { mode: "none" } });
      // The runtime's own complaint lands on the container's stderr FIFO (made by create): keep it readable for the report.
      const errFd = openSync(h.stderrFifo, constants.O_RDWR | constants.O_NONBLOCK);
      try {
        await runtime.start(h, 10_000);
        const code = await runtime.wait(h, 10_000);
        if (code !== 0) throw new Error(`the test container (${argv.join(" ")}) exited with ${code}${stderrNote(readNonBlocking(errFd))}`);
      } catch (e) {
        const said = readNonBlocking(errFd);
        if (said && !(e as Error).message.includes(said)) throw new Error(`${message(e)}${stderrNote(said)}`);
        throw e;
      } finally {
        closeSync(errFd);
        await runtime.remove(h);
      }
    } finally {
      await runtime.cleanupLeftovers(project).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function stderrNote(text: string): string {
  return text ? `: ${text.split("\n").slice(-3).join(" ")}` : "";
}

/** `ip netns add NAME` then `ip netns del NAME`. */
export function probeNetns(ip: string, name: string): Promise<ProbeOutcome> {
  return timed(async () => {
    await execa(ip, ["netns", "add", name]);
    await execa(ip, ["netns", "del", name]).catch(async (e: unknown) => {
      await execa(ip, ["netns", "del", name], { reject: false });
      throw e;
    });
  });
}

/** `nft list tables`. */
export function probeNft(nft: string): Promise<ProbeOutcome> {
  return timed(async () => {
    await execa(nft, ["list", "tables"]);
  });
}
