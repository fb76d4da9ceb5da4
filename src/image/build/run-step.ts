// RUN: the command runs in a build container made by the container runtime
// (project `_build`, a name no user project can have): the image so far as
// overlay lowerdirs, the step's environment, user and working dir, its
// mounts, and the build's network. Its output is streamed line by line; its
// changes are read from the container's upper dir by upperDiff().
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SystemError } from "../../errors.js";
import type { ContainerHandle, ContainerRuntime, NetworkNamespace } from "../../runtime/index.js";
import { defaultService } from "../../schema/normalize/service.js";
import type { ServiceModel, ServiceVolumeModel } from "../../schema/model.js";
import { readFifo, type FifoReader } from "../../supervisor/fifo-reader.js";
import type { OciImageConfig } from "../store/oci-types.js";

/** The reserved project of build containers and the build network: user project names cannot start with "_". */
export const BUILD_PROJECT = "_build";

export interface BuildContainerSpec {
  argv: string[];
  env: Record<string, string>;
  config: OciImageConfig;
  /** Image layer folders, top-most first (may be empty: FROM scratch). */
  lowerdirs: string[];
  binds: Array<{ source: string; target: string; readOnly: boolean }>;
  tmpfs: Array<{ target: string; size?: number }>;
  network: NetworkNamespace;
  etcFiles?: { resolvConf?: string; hosts?: string };
  shmSize?: number;
  /** An empty folder used as the lowerdir of a step with no layers below. */
  emptyDir: string;
}

export interface BuildContainerResult {
  exitCode: number;
  /** The last lines of output (stdout and stderr interleaved), for error messages. */
  lastLines: string[];
  handle: ContainerHandle;
  upper: string;
  mountPoints: string[];
}

function serviceFor(spec: BuildContainerSpec, name: string): ServiceModel {
  const volumes: ServiceVolumeModel[] = spec.binds.map((b) => ({ type: "bind", source: b.source, target: b.target, read_only: b.readOnly, bind: { create_host_path: false } }));
  const service: ServiceModel = {
    ...defaultService(name),
    pull_policy: "never",
    entrypoint: spec.argv,
    command: [],
    environment: spec.env,
    volumes,
    tmpfs: spec.tmpfs.map((t) => (t.size !== undefined ? `${t.target}:size=${t.size}` : t.target)),
  };
  if (spec.config.User) service.user = spec.config.User;
  if (spec.config.WorkingDir) service.working_dir = spec.config.WorkingDir;
  if (spec.shmSize !== undefined) service.shm_size = spec.shmSize;
  return service;
}

/** Runs one RUN step to its end; the caller captures the upper dir and then calls `removeBuildContainer`. */
export async function runBuildContainer(runtime: ContainerRuntime, spec: BuildContainerSpec, onLine: (line: string) => void): Promise<BuildContainerResult> {
  const id = `run-${randomBytes(6).toString("hex")}`;
  const lowerdirs = spec.lowerdirs.length > 0 ? spec.lowerdirs : [spec.emptyDir];
  mkdirSync(spec.emptyDir, { recursive: true });
  // The image's run settings that must not reach a build step: its volumes and healthcheck.
  const image: OciImageConfig = { ...spec.config, Volumes: {}, Entrypoint: null, Cmd: null };
  delete image.Healthcheck;
  const handle = await runtime.create({
    project: BUILD_PROJECT,
    id,
    service: serviceFor(spec, "build"),
    image,
    lowerdirs,
    network: spec.network,
    hostname: "buildkitsandbox",
    ...(spec.etcFiles ? { etcFiles: spec.etcFiles } : {}),
  });
  const lastLines: string[] = [];
  const readers: FifoReader[] = [];
  try {
    let ended = 0;
    let endedAll: () => void = () => undefined;
    const allEnded = new Promise<void>((r) => (endedAll = r));
    const openReaders = async () => {
    for (const fifo of [handle.stdoutFifo, handle.stderrFifo]) {
      let partial = "";
      readers.push(
        readFifo(
          fifo,
          (text) => {
            const lines = (partial + text).split("\n");
            partial = lines.pop() ?? "";
            for (const l of lines) {
              lastLines.push(l);
              if (lastLines.length > 20) lastLines.shift();
              onLine(l);
            }
          },
          () => {
            if (partial !== "") {
              lastLines.push(partial);
              if (lastLines.length > 20) lastLines.shift();
              onLine(partial);
              partial = "";
            }
            if (++ended === 2) endedAll();
          },
        ),
      );
    }
    };
    await runtime.start(handle, 30_000, { beforeSpawn: openReaders });
    const exitCode = await runtime.wait(handle);
    // The pipes end once every writer is gone; a short grace covers output still in flight.
    await Promise.race([allEnded, new Promise((r) => setTimeout(r, 1000))]);
    for (const r of readers) r.end();
    const config = JSON.parse(readFileSync(join(handle.dir, "config.json"), "utf8")) as { mounts?: Array<{ destination: string }>; process?: { cwd?: string } };
    const mountPoints = [...(config.mounts ?? []).map((m) => m.destination), ...(config.process?.cwd ? [config.process.cwd] : [])];
    return { exitCode, lastLines, handle, upper: join(handle.dir, "upper"), mountPoints };
  } catch (e) {
    for (const r of readers) r.close();
    await runtime.remove(handle).catch(() => undefined);
    throw e instanceof SystemError ? e : new SystemError(`the build container could not run: ${(e as Error).message}`, { cause: e, hint: "check that runc works (`stack` runs builds as root)" });
  }
}
