// How container log lines are printed by `stack logs` and attached `stack up`
// (pure): `web-1  | text`, the prefix padded to the widest container shown,
// one colour per service (stable: the service's place in the sorted list),
// optional RFC 3339 timestamps, or no prefix at all.
import type { LogLine } from "../supervisor/log-record.js";

export interface LogFormatOptions {
  color: boolean;
  prefix: boolean;
  timestamps: boolean;
}

// Compose's palette order: cyan, yellow, green, magenta, blue, then bright ones.
const COLORS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

export function logPrefix(line: Pick<LogLine, "service" | "index">): string {
  return `${line.service}-${line.index}`;
}

export class LogFormatter {
  private width: number;
  private readonly colorOf = new Map<string, number>();

  constructor(
    services: string[],
    private readonly opts: LogFormatOptions,
    /** Prefixes known up front (to pad to the widest from the first line on). */
    prefixes: string[] = [],
  ) {
    [...services].sort().forEach((s, i) => this.colorOf.set(s, COLORS[i % COLORS.length]!));
    this.width = Math.max(0, ...prefixes.map((p) => p.length));
  }

  format(line: LogLine): string {
    const ts = this.opts.timestamps ? `${line.t} ` : "";
    if (!this.opts.prefix) return `${ts}${line.l}\n`;
    const prefix = logPrefix(line);
    this.width = Math.max(this.width, prefix.length);
    const head = `${prefix.padEnd(this.width)}  |`;
    if (!this.opts.color) return `${head} ${ts}${line.l}\n`;
    let color = this.colorOf.get(line.service);
    if (color === undefined) {
      color = COLORS[this.colorOf.size % COLORS.length]!;
      this.colorOf.set(line.service, color);
    }
    return `\u001b[${color}m${head}\u001b[0m ${ts}${line.l}\n`;
  }
}

/** Colours are on for a terminal unless --no-color, --ansi never or NO_COLOR; --ansi always forces them. */
export function useColor(opts: { noColor?: boolean; ansi?: string; isTty: boolean; env: Record<string, string | undefined> }): boolean {
  if (opts.noColor || opts.ansi === "never") return false;
  if (opts.ansi === "always") return true;
  if (opts.env.NO_COLOR) return false;
  return opts.isTty;
}
