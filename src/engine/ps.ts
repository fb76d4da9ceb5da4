// `stack ps` rows (pure): recorded containers + their live status → what the
// table and the JSON output show, in the words Docker users know.
import type { ContainerStatus } from "./ports.js";
import type { ContainerRecord } from "./state.js";

export interface PsRow {
  Name: string;
  Service: string;
  Index: number;
  Image: string;
  Command: string;
  State: string;
  Health: string;
  ExitCode: number;
  Status: string;
  CreatedAt: string;
  Publishers: Array<{ URL: string; TargetPort: number; PublishedPort: number; Protocol: string }>;
  Watching: boolean;
}

/** Docker's human durations: "Less than a second", "5 seconds", "About a minute", "3 hours", … */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(m / 60);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  const d = Math.floor(h / 24);
  if (d < 14) return `${d} days`;
  if (d < 90) return `${Math.floor(d / 7)} weeks`;
  if (d < 730) return `${Math.floor(d / 30)} months`;
  return `${Math.floor(d / 365)} years`;
}

export function statusText(s: ContainerStatus, now: number): string {
  const since = (iso?: string) => (iso ? humanDuration(Math.max(0, now - Date.parse(iso))) : "");
  switch (s.state) {
    case "running":
      return `Up ${since(s.startedAt)}${s.health ? ` (${s.health === "starting" ? "health: starting" : s.health})` : ""}`.replace("Up  ", "Up ");
    case "paused":
      return `Up ${since(s.startedAt)} (Paused)`;
    case "restarting":
      return `Restarting (${s.exitCode ?? 0}) ${since(s.finishedAt)} ago`;
    case "exited":
      return `Exited (${s.exitCode ?? 0})${s.oomKilled ? " OOM killed" : ""} ${since(s.finishedAt)} ago`;
    case "created":
      return "Created";
    case "missing":
      return "Missing (run `stack up` to recreate it)";
  }
}

export function psRow(record: ContainerRecord, status: ContainerStatus, command: string, now: number, watching = false): PsRow {
  return {
    Name: record.name,
    Service: record.service,
    Index: record.index,
    Image: record.image.ref,
    Command: command,
    State: status.state,
    Health: status.health ?? "",
    ExitCode: status.exitCode ?? 0,
    Status: statusText(status, now),
    CreatedAt: record.createdAt,
    Publishers: (status.ports ?? []).map((p) => ({ URL: p.hostIp, TargetPort: p.target, PublishedPort: p.hostPort, Protocol: p.protocol })),
    Watching: watching,
  };
}

export function portsText(row: PsRow): string {
  return row.Publishers.map((p) => {
    const ip = p.URL === "" ? "0.0.0.0" : p.URL;
    return `${ip.includes(":") ? `[${ip}]` : ip}:${p.PublishedPort}->${p.TargetPort}/${p.Protocol}`;
  }).join(", ");
}

/** Fixed-width table with Docker's column names. */
export function renderPsTable(rows: PsRow[]): string {
  const header = ["NAME", "IMAGE", "COMMAND", "SERVICE", "STATUS", "PORTS"];
  const cells = rows.map((r) => [r.Name, r.Image, JSON.stringify(r.Command.length > 20 ? `${r.Command.slice(0, 19)}…` : r.Command), r.Service + (r.Watching ? " (watching)" : ""), r.Status, portsText(r)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]! + 3))).join("").trimEnd();
  return [line(header), ...cells.map(line)].join("\n") + "\n";
}
