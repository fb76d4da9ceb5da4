// When stack last pulled each name: `$STACK_STATE_DIR/registry/pulled/<sha256
// of the name>.json` = {"ref", "pulledAt"}. One small file per name, written
// atomically, so concurrent pulls of different names never race. Interval
// pull policies (daily, weekly, every_<duration>) read it.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../../fs/atomic-write.js";
import { normalizeReference } from "../reference.js";

function recordPath(stateDir: string, ref: string): string {
  return join(stateDir, "registry", "pulled", `${createHash("sha256").update(normalizeReference(ref)).digest("hex")}.json`);
}

export function recordPull(stateDir: string, ref: string, at: Date): void {
  writeJsonAtomic(recordPath(stateDir, ref), { ref: normalizeReference(ref), pulledAt: at.toISOString() });
}

/** When `ref` was last pulled by stack into this state dir; undefined if never (or the record is unreadable). */
export function lastPulledAt(stateDir: string, ref: string): Date | undefined {
  try {
    const r = readJson<{ pulledAt?: string } | undefined>(recordPath(stateDir, ref), undefined);
    const at = r?.pulledAt ? new Date(r.pulledAt) : undefined;
    return at && !Number.isNaN(at.getTime()) ? at : undefined;
  } catch {
    return undefined;
  }
}
