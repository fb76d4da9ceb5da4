// One captured log line as stored on disk, one JSON object per line in
// <container>/logs/current.jsonl:
//   {"t":"2026-11-26T22:44:09.123456789Z","s":"stdout","l":"the line"}
// t = when the supervisor read it (UTC, always 9 fraction digits, so the
// strings sort in time order), s = stdout | stderr, l = the text without its
// newline (a partial last line is flushed as it is).

export type LogStream = "stdout" | "stderr";

export interface LogRecord {
  t: string;
  s: LogStream;
  l: string;
}

/** A record with the container it came from, as the log readers return it. */
export interface LogLine extends LogRecord {
  service: string;
  /** The replica number (1-based) of the service. */
  index: number;
  container: string;
}

export function encodeRecord(r: LogRecord): string {
  return JSON.stringify({ t: r.t, s: r.s, l: r.l }) + "\n";
}

/** Parses one stored line; undefined for a torn or foreign line (skipped, never fatal). */
export function decodeRecord(text: string): LogRecord | undefined {
  if (text.length === 0) return undefined;
  try {
    const v = JSON.parse(text) as Partial<LogRecord>;
    if (typeof v.t === "string" && (v.s === "stdout" || v.s === "stderr") && typeof v.l === "string") return { t: v.t, s: v.s, l: v.l };
  } catch {
    // a line cut by a crash mid-write
  }
  return undefined;
}

/** Formats wall-clock nanoseconds as RFC 3339 with nanoseconds. */
export function formatTimestamp(epochNs: bigint): string {
  const ms = Number(epochNs / 1_000_000n);
  const frac = (epochNs % 1_000_000_000n).toString().padStart(9, "0");
  return new Date(ms).toISOString().slice(0, 19) + "." + frac + "Z";
}

/**
 * A clock that gives nanosecond timestamps, strictly increasing within the
 * process (two lines read in the same chunk keep their order after a merge).
 */
export function createTimestampClock(nowMs: () => number = Date.now, hrtime: () => bigint = process.hrtime.bigint): () => string {
  const baseNs = BigInt(nowMs()) * 1_000_000n;
  const baseHr = hrtime();
  let last = 0n;
  return () => {
    let ns = baseNs + (hrtime() - baseHr);
    if (ns <= last) ns = last + 1n;
    last = ns;
    return formatTimestamp(ns);
  };
}

/** Splits a chunk onto the pending partial line: whole lines and the new remainder. */
export function splitLines(pending: string, chunk: string): { lines: string[]; rest: string } {
  const parts = (pending + chunk).split("\n");
  const rest = parts.pop() ?? "";
  return { lines: parts.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l)), rest };
}
