// One container's status as `ps` and the engine report it, composed from what
// the runtime decided from its files, the times of those files, what the
// supervisor knows (restarting, health) and the published ports. Pure; both
// the engine's statusOf() (wiring.ts) and ps's read-only path
// (status-reader.ts) use it.
import type { PublishedPort } from "../network/ports.js";
import type { ContainerStatus as SupervisedStatus } from "../supervisor/protocol.js";
import type { ContainerStatus } from "./ports.js";

export interface RuntimeView {
  status: "created" | "running" | "paused" | "exited";
  exitCode?: number;
  oomKilled?: boolean;
  /** The pid file's mtime (ISO), when there is one. */
  startedAt?: string;
  /** The exit file's mtime (ISO), for an exited container. */
  finishedAt?: string;
}

export function composeStatus(base: { name: string; service: string; index: number }, rs: RuntimeView, supervised: SupervisedStatus | undefined, ports: PublishedPort[]): ContainerStatus {
  const out: ContainerStatus = { ...base, state: rs.status };
  if (rs.exitCode !== undefined) out.exitCode = rs.exitCode;
  if (rs.oomKilled) out.oomKilled = true;
  if (rs.startedAt) out.startedAt = rs.startedAt;
  if (rs.finishedAt) out.finishedAt = rs.finishedAt;
  if (supervised) {
    if (supervised.state === "restarting") out.state = "restarting";
    if (supervised.health && rs.status === "running") out.health = supervised.health;
    if (supervised.healthLog) out.healthLog = supervised.healthLog.map((e) => e.output);
  }
  const own = ports.filter((p) => p.container === base.name);
  if (own.length > 0) out.ports = own.map((p) => ({ hostIp: p.hostIp, hostPort: p.hostPort, target: p.target, protocol: p.protocol }));
  return out;
}
