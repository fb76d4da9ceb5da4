// Reading logs, pure: the time bounds of --since/--until, the per-container
// --tail, and the merge of several containers' lines in timestamp order.
import { InvalidInputError } from "../errors.js";
import { formatTimestamp, type LogLine } from "./log-record.js";

export interface LogQuery {
  /** Services to show; undefined or empty = all. */
  services?: string[];
  follow: boolean;
  /** Last N lines per container; undefined = all. */
  tail?: number;
  /** RFC 3339 bounds (inclusive) as produced by parseTimeBound. */
  since?: string;
  until?: string;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a Go-style duration: 10m, 1h30m, 1.5s, 250ms. undefined when the text is not one. */
export function parseRelativeDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/**
 * A --since/--until value as an RFC 3339 timestamp: a relative duration
 * (10m, 1h30m: that long before now), an RFC 3339 time, a date (2024-01-02,
 * midnight UTC) or Unix seconds (1700000000[.5]).
 */
export function parseTimeBound(text: string, nowMs: number, flag = "--since"): string {
  const t = text.trim();
  const rel = parseRelativeDuration(t);
  let ms: number | undefined;
  if (rel !== undefined) ms = nowMs - rel;
  else if (/^\d+(\.\d+)?$/.test(t)) ms = Number(t) * 1000;
  else if (/^\d{4}-\d{2}-\d{2}$/.test(t)) ms = Date.parse(`${t}T00:00:00Z`);
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/.test(t)) {
    ms = Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(t) ? t : `${t}Z`);
  }
  if (ms === undefined || Number.isNaN(ms)) {
    throw new InvalidInputError(`${flag}: cannot read ${JSON.stringify(text)} as a time`, {
      hint: "use a duration before now (10m, 1h30m), an RFC 3339 time (2024-01-02T15:04:05Z) or a date (2024-01-02)",
    });
  }
  return formatTimestamp(BigInt(Math.round(ms)) * 1_000_000n);
}

export function withinBounds(t: string, query: Pick<LogQuery, "since" | "until">): boolean {
  return (query.since === undefined || t >= query.since) && (query.until === undefined || t <= query.until);
}

/** One container's lines (oldest first) after the time bounds and the tail. */
export function selectLines<T extends { t: string }>(lines: T[], query: Pick<LogQuery, "since" | "until" | "tail">): T[] {
  const bounded = lines.filter((l) => withinBounds(l.t, query));
  if (query.tail === undefined || query.tail < 0) return bounded;
  return query.tail === 0 ? [] : bounded.slice(-query.tail);
}

/** Merges containers' lines (each oldest first) by timestamp; ties keep the order of the containers given. */
export function mergeByTime(perContainer: LogLine[][]): LogLine[] {
  const out: LogLine[] = [];
  const pos = perContainer.map(() => 0);
  for (;;) {
    let best = -1;
    for (let i = 0; i < perContainer.length; i++) {
      const line = perContainer[i]![pos[i]!];
      if (line && (best < 0 || line.t < perContainer[best]![pos[best]!]!.t)) best = i;
    }
    if (best < 0) return out;
    out.push(perContainer[best]![pos[best]!]!);
    pos[best]!++;
  }
}
