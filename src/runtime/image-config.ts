// The part of an OCI image config that the runtime needs. The image store
// adapts its stored config (`config` of the OCI image config JSON) to this.
// Field names keep the OCI/Docker spelling so the adapter is a plain copy.
export interface ImageConfig {
  /** "KEY=value" entries, in image order. */
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  /** "name", "uid", "uid:gid", "name:group"; empty = root. */
  User?: string;
  /** "SIGTERM", "TERM", "15"; empty = SIGTERM. */
  StopSignal?: string;
  /** Paths the image declares as volumes (anonymous volumes on create). */
  Volumes?: Record<string, object>;
}
