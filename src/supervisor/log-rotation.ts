// Size-based rotation of a log file, like Docker's json-file driver:
// current.jsonl grows to max-size, then current → .1, .1 → .2 …, keeping
// max-file files in all (current included). Each step is one rename, so a
// crash mid-rotation leaves whole files only.
import { InvalidInputError } from "../errors.js";

export interface RotationSpec {
  maxSizeBytes: number;
  maxFiles: number;
}

export const DEFAULT_ROTATION: RotationSpec = { maxSizeBytes: 10 * 1024 * 1024, maxFiles: 3 };

export const CURRENT_LOG = "current.jsonl";

/** The file names of a log, newest first: current.jsonl, current.jsonl.1, … */
export function rotatedNames(maxFiles: number, base = CURRENT_LOG): string[] {
  return Array.from({ length: Math.max(1, maxFiles) }, (_, i) => (i === 0 ? base : `${base}.${i}`));
}

/** The renames (and the one delete) that rotate the files, in the order to run them. */
export function planRotation(maxFiles: number, base = CURRENT_LOG): { remove?: string; renames: Array<[from: string, to: string]> } {
  const names = rotatedNames(maxFiles, base);
  if (names.length === 1) return { remove: base, renames: [] };
  const renames: Array<[string, string]> = [];
  for (let i = names.length - 1; i > 0; i--) renames.push([names[i - 1]!, names[i]!]);
  return { renames };
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** Parses a size like Docker's max-size: 10m, 512k, 1g, 2048 (binary units). */
export function parseLogSize(text: string, path: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) {
    throw new InvalidInputError(`${path}: invalid size ${JSON.stringify(text)}`, { hint: "write a positive number with an optional unit k, m or g, like 10m" });
  }
  return Math.floor(Number(m[1]) * unit);
}

/** The rotation of a service's `logging.options` (max-size, max-file); other options are ignored. */
export function rotationOf(options: Record<string, string> | undefined, path = "logging.options"): RotationSpec {
  const spec = { ...DEFAULT_ROTATION };
  if (options?.["max-size"] !== undefined) spec.maxSizeBytes = parseLogSize(options["max-size"], `${path}.max-size`);
  if (options?.["max-file"] !== undefined) {
    const n = Number(options["max-file"]);
    if (!Number.isInteger(n) || n < 1) throw new InvalidInputError(`${path}.max-file: invalid count ${JSON.stringify(options["max-file"])}`, { hint: "write a whole number of files, 1 or more" });
    spec.maxFiles = n;
  }
  return spec;
}
