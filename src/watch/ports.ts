// The narrow slice of the engine that watching needs. The engine implements
// it with real containers; tests implement it over temp folders.
//
// Contract:
// - `containerRoot` lists the running containers of a service (one per
//   replica) with the host directory where each one's root filesystem is
//   mounted (the merged overlay dir stack owns) and the uid/gid that files
//   synced into it get. An empty list means the service does not run.
// - `rebuild` builds the service's image again and recreates only that
//   service (plus dependents that declared `depends_on: {restart: true}`).
//   It rejects with the build error, and the old container then keeps running.
// - `exec` resolves with the command's exit status and output; it rejects only
//   when the command cannot be run at all.

export interface ContainerRoot {
  /** Host path of the container's root filesystem. */
  rootfs: string;
  uid: number;
  gid: number;
  /** The container's name or id, for messages. */
  container: string;
}

export interface WatchExecOptions {
  user?: string;
  workingDir?: string;
  environment?: Record<string, string>;
  privileged?: boolean;
}

export interface WatchTargetPort {
  containerRoot(service: string): Promise<ContainerRoot[]>;
  restart(service: string): Promise<void>;
  rebuild(service: string): Promise<void>;
  exec(service: string, argv: string[], options?: WatchExecOptions): Promise<{ exitCode: number; output: string }>;
}
