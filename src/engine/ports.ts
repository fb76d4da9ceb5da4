// What the engine needs from the layers below it. The engine's verbs (up,
// down, …) are written against these narrow ports; engine/wiring.ts adapts the
// real image store, networks, runtime and supervisor to them, and unit tests
// use recording fakes.
import type { ServiceModel, StackModel } from "../schema/model.js";

export interface ImageInfo {
  ref: string;
  digest: string;
}

export interface ImagePort {
  /** The service's image in the local store (pulling or building as its policy allows), or a NotFoundError saying what to do. */
  ensure(service: ServiceModel): Promise<ImageInfo>;
}

export interface NetworkPort {
  /**
   * Creates the project's networks that the given services use and that do
   * not exist yet. Containers can be created and attached once it resolves;
   * none may run before ready() resolves (the firewall may still be applied
   * meanwhile).
   */
  ensure(model: StackModel, services: string[]): Promise<void>;
  /** A hint that ensure(model, services) comes soon: the host may be read ahead meanwhile (nothing changes). */
  prepare?(model: StackModel, services: string[]): void;
  /** Resolves once what ensure() started is complete (rejects with its failure). */
  ready?(): Promise<void>;
  /** Removes the project's networks that no container uses any more (external ones never). */
  removeUnused(project: string): Promise<void>;
}

export type ContainerState = "created" | "running" | "paused" | "restarting" | "exited" | "missing";
export type HealthState = "starting" | "healthy" | "unhealthy";

export interface ContainerStatus {
  name: string;
  service: string;
  index: number;
  state: ContainerState;
  health?: HealthState;
  exitCode?: number;
  oomKilled?: boolean;
  /** Last outputs of the healthcheck, oldest first. */
  healthLog?: string[];
  startedAt?: string;
  finishedAt?: string;
  ports?: Array<{ hostIp: string; hostPort: number; target: number; protocol: string }>;
}

export interface CreateRequest {
  project: StackModel;
  service: ServiceModel;
  index: number;
  name: string;
  image: ImageInfo;
  configHash: string;
  /** Removed when it exits (`run --rm`): see CreateConfig.ephemeral. */
  ephemeral?: boolean;
}

export interface ContainerPort {
  /** Makes the container (rootfs, cgroup, network attachment, spec) without starting it. */
  create(req: CreateRequest): Promise<{ id: string; command?: string[] }>;
  start(name: string): Promise<void>;
  /** stop_signal, then the grace period, then SIGKILL to the whole group. */
  stop(name: string, timeoutMs?: number): Promise<void>;
  kill(name: string, signal: string): Promise<void>;
  /** Removes a stopped container (anonymous volumes too when asked; named volumes never). */
  remove(name: string, options: { volumes: boolean }): Promise<void>;
  status(name: string): Promise<ContainerStatus>;
  /** Last log lines of a container, for failure messages. */
  lastLogLines(name: string, count: number): Promise<string[]>;
}

/** Progress of one container through `up` or `down`, for the CLI's renderer. */
export interface ProgressEvent {
  service: string;
  container: string;
  phase: "pulling" | "building" | "creating" | "recreating" | "starting" | "waiting" | "healthy" | "started" | "exited" | "running" | "stopping" | "stopped" | "removing" | "removed" | "error";
  detail?: string;
  elapsedMs?: number;
}

export type ProgressSink = (event: ProgressEvent) => void;

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};
