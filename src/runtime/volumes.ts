// The service's volumes as mounts, planned from data: binds (host dirs made
// when missing, like Compose), named volumes under
// $STACK_STATE_DIR/volumes/<project>_<name>/_data, anonymous volumes (the
// service's and the image's VOLUMEs) inside the container's own dir, tmpfs,
// and mounts taken over from other containers (volumes_from).
import { join } from "node:path";
import { InvalidInputError, UnsupportedError } from "../errors.js";
import type { ServiceModel } from "../schema/model.js";
import type { OciMount } from "./oci-spec.js";

export interface VolumeDir {
  /** Host directory backing the mount. */
  dir: string;
  /** Path in the container. */
  target: string;
  /** Fill it from the image's content at `target` when it is new (Docker's copy-up). */
  copyFromImage: boolean;
}

export interface VolumePlan {
  mounts: OciMount[];
  /** Host dirs to create (bind sources with create_host_path). */
  createDirs: string[];
  volumeDirs: VolumeDir[];
}

export interface VolumePlanInput {
  service: ServiceModel;
  /** Top-level volume key → real name (`<project>_<key>` or `name:`). */
  volumeNames: Record<string, string>;
  stateDir: string;
  containerDir: string;
  /** Paths the image declares as VOLUME. */
  imageVolumes: string[];
  /** Volume mounts of the containers named in volumes_from, in that order, each with its read_only flag. */
  volumesFrom: Array<{ mounts: OciMount[]; read_only: boolean }>;
}

export function namedVolumeDir(stateDir: string, realName: string): string {
  return join(stateDir, "volumes", realName, "_data");
}

function anonymousDir(containerDir: string, target: string): string {
  return join(containerDir, "volumes", target.replace(/^\/+/, "").replace(/[/]/g, "_") || "_root", "_data");
}

export function planVolumes(input: VolumePlanInput): VolumePlan {
  const { service } = input;
  const base = `services.${service.name}.volumes`;
  const plan: VolumePlan = { mounts: [], createDirs: [], volumeDirs: [] };
  const rw = (ro: boolean) => (ro ? "ro" : "rw");
  const targets = new Set<string>();
  for (const v of service.volumes) {
    if (!v.target.startsWith("/")) throw new InvalidInputError(`${base}: target ${JSON.stringify(v.target)} is not absolute`, { hint: "write the container path as an absolute path" });
    targets.add(v.target);
    if (v.type === "bind") {
      if (v.bind.create_host_path) plan.createDirs.push(v.source);
      plan.mounts.push({ destination: v.target, type: "bind", source: v.source, options: ["rbind", rw(v.read_only), v.bind.propagation ?? "rprivate"] });
    } else if (v.type === "volume") {
      let dir: string;
      if (v.source === undefined) dir = anonymousDir(input.containerDir, v.target);
      else {
        const real = input.volumeNames[v.source];
        if (!real) throw new InvalidInputError(`${base}: volume ${JSON.stringify(v.source)} is not declared under the top-level volumes:`, { hint: `add \`${v.source}: {}\` under volumes:` });
        dir = namedVolumeDir(input.stateDir, real);
      }
      plan.volumeDirs.push({ dir, target: v.target, copyFromImage: !v.volume.nocopy && v.volume.subpath === undefined });
      const source = v.volume.subpath ? join(dir, v.volume.subpath) : dir;
      plan.mounts.push({ destination: v.target, type: "bind", source, options: ["rbind", rw(v.read_only), "rprivate"] });
    } else if (v.type === "tmpfs") {
      const opts = ["nosuid", "nodev", rw(v.read_only)];
      if (v.tmpfs.size !== undefined) opts.push(`size=${v.tmpfs.size}`);
      if (v.tmpfs.mode !== undefined) opts.push(`mode=${v.tmpfs.mode.toString(8)}`);
      plan.mounts.push({ destination: v.target, type: "tmpfs", source: "tmpfs", options: opts });
    } else {
      throw new UnsupportedError(`${base}: volume type ${JSON.stringify(v.type)} at ${JSON.stringify(v.target)} is not supported by stack's runtime`, { hint: "use a bind, volume or tmpfs mount" });
    }
  }
  for (const from of input.volumesFrom) {
    for (const m of from.mounts) {
      if (targets.has(m.destination)) continue;
      targets.add(m.destination);
      const options = (m.options ?? []).filter((o) => o !== "ro" && o !== "rw");
      const ro = from.read_only || (m.options ?? []).includes("ro");
      plan.mounts.push({ ...m, options: [...options, rw(ro)] });
    }
  }
  for (const target of [...input.imageVolumes].sort()) {
    if (targets.has(target)) continue;
    targets.add(target);
    const dir = anonymousDir(input.containerDir, target);
    plan.volumeDirs.push({ dir, target, copyFromImage: true });
    plan.mounts.push({ destination: target, type: "bind", source: dir, options: ["rbind", "rw", "rprivate"] });
  }
  return plan;
}
