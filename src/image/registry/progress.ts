// Transfer progress for `stack pull`/`push`: in a terminal, one line per
// layer redrawn in place (status, bytes, rate); otherwise plain lines, one
// when a layer starts and one when it ends, so logs stay readable. Line
// formatting is pure (formatTransferLine); the renderer only keeps state and
// writes.

export type TransferStatus = "waiting" | "exists" | "downloading" | "uploading" | "verifying" | "extracting" | "mounted" | "done";

export interface TransferState {
  digest: string;
  status: TransferStatus;
  current: number;
  total: number;
  /** ms timestamps: when bytes started moving, and when the layer finished. */
  startedAt?: number;
  endedAt?: number;
}

const STATUS_TEXT: Record<"pull" | "push", Record<TransferStatus, string>> = {
  pull: { waiting: "Waiting", exists: "Already exists", downloading: "Downloading", uploading: "Uploading", verifying: "Verifying checksum", extracting: "Extracting", mounted: "Mounted", done: "Pull complete" },
  push: { waiting: "Waiting", exists: "Layer already exists", downloading: "Downloading", uploading: "Pushing", verifying: "Verifying", extracting: "Extracting", mounted: "Mounted from another repository", done: "Pushed" },
};

export function formatBytes(n: number): string {
  if (n < 1000) return `${n}B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

/** "3f2a1b0c9d8e: Downloading  [=====>     ]  12.3MB/45.6MB  5.1MB/s" */
export function formatTransferLine(kind: "pull" | "push", s: TransferState, now: number): string {
  const id = s.digest.replace(/^sha256:/, "").slice(0, 12);
  const text = STATUS_TEXT[kind][s.status];
  const moving = s.status === "downloading" || s.status === "uploading";
  const end = s.endedAt ?? now;
  const seconds = s.startedAt !== undefined ? Math.max(0.001, (end - s.startedAt) / 1000) : undefined;
  // A rate over less than 0.2 s says more about timer resolution than about the transfer.
  const rate = seconds !== undefined && seconds >= 0.2 && s.current > 0 ? `  ${formatBytes(Math.round(s.current / seconds))}/s` : "";
  if (moving) {
    const width = 30;
    const filled = s.total > 0 ? Math.min(width, Math.floor((s.current / s.total) * width)) : 0;
    const bar = `[${"=".repeat(Math.max(0, filled - 1))}${filled > 0 ? ">" : ""}${" ".repeat(width - filled)}]`;
    return `${id}: ${text}  ${bar}  ${formatBytes(s.current)}/${formatBytes(s.total)}${rate}`;
  }
  if (s.status === "done" && seconds !== undefined && s.current > 0) return `${id}: ${text}  ${formatBytes(s.total)} in ${seconds.toFixed(1)}s${rate}`;
  return `${id}: ${text}`;
}

export interface TransferRenderer {
  update(event: { digest: string; status: TransferStatus; current: number; total: number }): void;
  /** Draws the final state. */
  finish(): void;
}

/** Progress for one image; `tty` redraws lines in place, else plain lines on start and end. `clock` is injectable for tests. */
export function createTransferRenderer(kind: "pull" | "push", out: NodeJS.WritableStream, tty: boolean, clock: () => number = Date.now): TransferRenderer {
  const layers = new Map<string, TransferState>();
  let drawn = 0;
  let lastDraw = 0;
  const draw = (force: boolean) => {
    const now = clock();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const lines = [...layers.values()].map((s) => formatTransferLine(kind, s, now));
    const up = drawn > 0 ? `\x1b[${drawn}A` : "";
    out.write(up + lines.map((l) => `\x1b[2K${l}\n`).join(""));
    drawn = lines.length;
  };
  return {
    update(e) {
      const now = clock();
      const prev = layers.get(e.digest);
      // A layer the store or the registry already had stays reported as such.
      if (prev?.status === "exists" || prev?.status === "mounted") return;
      const s: TransferState = { ...(prev ?? { startedAt: undefined }), digest: e.digest, status: e.status, current: e.current, total: e.total };
      if ((e.status === "downloading" || e.status === "uploading") && s.startedAt === undefined) s.startedAt = now;
      if (e.status === "done" && s.endedAt === undefined) s.endedAt = now;
      if (e.status === "verifying" && prev?.status === "downloading") s.endedAt = now;
      layers.set(e.digest, s);
      if (tty) {
        draw(e.status !== "downloading" && e.status !== "uploading");
        return;
      }
      const changed = prev?.status !== e.status;
      const plainWorthy = e.status === "exists" || e.status === "mounted" || e.status === "done" || ((e.status === "downloading" || e.status === "uploading") && changed);
      if (changed && plainWorthy) out.write(formatTransferLine(kind, s, now) + "\n");
    },
    finish() {
      if (tty && layers.size > 0) draw(true);
    },
  };
}
