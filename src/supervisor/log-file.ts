// A rotating JSON-lines file (container logs, the project's events): appends
// are synchronous writes, so a line the supervisor has taken out of a pipe is
// on disk before the next one is read (a kill -9 loses nothing it acknowledged).
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CURRENT_LOG, planRotation, rotatedNames, type RotationSpec } from "./log-rotation.js";

export class RotatingFile {
  private fd: number | undefined;
  private size = 0;

  constructor(
    readonly dir: string,
    private rotation: RotationSpec,
    readonly name = CURRENT_LOG,
  ) {}

  setRotation(rotation: RotationSpec): void {
    this.rotation = rotation;
  }

  append(text: string): void {
    const bytes = Buffer.from(text);
    if (this.fd === undefined) this.open();
    if (this.size > 0 && this.size + bytes.length > this.rotation.maxSizeBytes) {
      this.rotate();
      this.open();
    }
    writeSync(this.fd!, bytes);
    this.size += bytes.length;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): void {
    mkdirSync(this.dir, { recursive: true });
    this.fd = openSync(join(this.dir, this.name), "a", 0o640);
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.close();
    const plan = planRotation(this.rotation.maxFiles, this.name);
    if (plan.remove) rmSync(join(this.dir, plan.remove), { force: true });
    for (const [from, to] of plan.renames) if (existsSync(join(this.dir, from))) renameSync(join(this.dir, from), join(this.dir, to));
    // Files beyond a lowered max-file are left from an earlier setting: drop them.
    for (let i = this.rotation.maxFiles; existsSync(join(this.dir, `${this.name}.${i}`)); i++) rmSync(join(this.dir, `${this.name}.${i}`));
  }
}

/**
 * The lines of a rotated log, oldest first (…, .2, .1, current). With
 * `atLeast`, files are read newest first only until that many lines are in
 * hand (older lines may be left out).
 */
export function readRotatedLines(dir: string, maxFilesHint = 16, base = CURRENT_LOG, atLeast?: number): string[] {
  const chunks: string[][] = [];
  let count = 0;
  for (const name of rotatedNames(maxFilesHint, base)) {
    if (atLeast !== undefined && count >= atLeast) break;
    let text: string;
    try {
      text = readFileSync(join(dir, name), "utf8");
    } catch {
      continue;
    }
    const lines = text.split("\n").filter((l) => l.length > 0);
    count += lines.length;
    chunks.push(lines);
  }
  return chunks.reverse().flat();
}
