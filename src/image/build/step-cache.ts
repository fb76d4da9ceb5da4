// The build step cache under $STACK_STATE_DIR/build-cache: one small JSON
// record per step key. A key chains the parent's key, the instruction as
// expanded and the digest of what the step reads, so a change anywhere
// invalidates that step and every later one. A record names the step's
// layer (absent for a step that makes none) and when it was made, so a
// fully cached build gives the same image ID again.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../../fs/atomic-write.js";

export interface CachedLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

export interface StepRecord {
  created: string;
  layer?: CachedLayer;
}

/** The key of a step: sorted, stable JSON of its parts, hashed. */
export function stepKey(parent: string, instruction: unknown, readsDigest = ""): string {
  return createHash("sha256").update(`${parent}\n${stableJson(instruction)}\n${readsDigest}`).digest("hex");
}

export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export class StepCache {
  readonly root: string;
  constructor(stateDir: string) {
    this.root = join(stateDir, "build-cache");
  }

  private file(key: string): string {
    return join(this.root, "steps", key.slice(0, 2), `${key}.json`);
  }

  get(key: string): StepRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.file(key), "utf8")) as StepRecord;
    } catch {
      return undefined;
    }
  }

  put(key: string, record: StepRecord): void {
    mkdirSync(join(this.root, "steps", key.slice(0, 2)), { recursive: true });
    writeJsonAtomic(this.file(key), record);
  }

  /** The folder of a `RUN --mount=type=cache` id, kept between builds. */
  mountDir(id: string): string {
    return join(this.root, "mounts", createHash("sha256").update(id).digest("hex").slice(0, 16));
  }
}
