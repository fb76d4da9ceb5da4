// `devices:` entries → OCI devices. The host device's type and numbers come
// from a stat the caller makes (statDevice below is the real one), so the
// mapping itself stays pure.
import { statSync } from "node:fs";
import { InvalidInputError, NotFoundError } from "../errors.js";
import type { DeviceModel } from "../schema/model.js";
import type { ResolvedDevice } from "./oci-spec.js";

export interface DeviceStat {
  kind: "c" | "b" | "other";
  rdev: number;
  mode: number;
  uid: number;
  gid: number;
}

/** Linux's dev_t split (glibc's gnu_dev_major/minor). */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return { major: ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0), minor: (lo & 0xff) | ((lo >>> 12) & 0xfff00) };
}

export function resolveDevice(service: string, device: DeviceModel, stat: DeviceStat | undefined): ResolvedDevice {
  const path = `services.${service}.devices`;
  if (!stat) throw new NotFoundError(`${path}: host device ${JSON.stringify(device.source)} does not exist`, { hint: "check the path on the host, or load the driver that makes it" });
  if (stat.kind === "other") throw new InvalidInputError(`${path}: ${JSON.stringify(device.source)} is not a character or block device`, { hint: "bind-mount regular files with volumes:" });
  if (!/^[rwm]{1,3}$/.test(device.permissions)) {
    throw new InvalidInputError(`${path}: permissions ${JSON.stringify(device.permissions)} for ${device.source} are not valid`, { hint: 'use a combination of "r", "w" and "m", e.g. "rwm"' });
  }
  return { path: device.target, type: stat.kind, ...deviceNumbers(stat.rdev), fileMode: stat.mode & 0o777, uid: stat.uid, gid: stat.gid, permissions: device.permissions };
}

export function statDevice(path: string): DeviceStat | undefined {
  try {
    const s = statSync(path);
    return { kind: s.isCharacterDevice() ? "c" : s.isBlockDevice() ? "b" : "other", rdev: s.rdev, mode: s.mode, uid: s.uid, gid: s.gid };
  } catch {
    return undefined;
  }
}
