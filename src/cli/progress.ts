// Renders engine progress events: listr2 in a terminal (one line per service
// moving through its phases, with timings), plain lines otherwise or with
// --progress plain, one JSON object per event with --progress json, nothing
// with --progress quiet. The formatting of a line is pure (formatEvent).
import type { ProgressEvent, ProgressSink } from "../engine/ports.js";

export type ProgressMode = "tty" | "plain" | "json" | "quiet";

const phaseText: Record<ProgressEvent["phase"], string> = {
  pulling: "Pulling",
  building: "Building",
  creating: "Creating",
  recreating: "Recreating",
  starting: "Starting",
  waiting: "Waiting",
  healthy: "Healthy",
  started: "Started",
  exited: "Exited",
  running: "Running",
  stopping: "Stopping",
  stopped: "Stopped",
  removing: "Removing",
  removed: "Removed",
  error: "Error",
};

export function formatEvent(e: ProgressEvent): string {
  const kind = e.detail === "volume" ? "Volume" : e.detail === "network" ? "Network" : "Container";
  const detail = e.detail && e.detail !== "volume" && e.detail !== "network" ? `  ${e.detail}` : "";
  const time = e.elapsedMs !== undefined ? `  ${(e.elapsedMs / 1000).toFixed(1)}s` : "";
  return ` ${kind} ${e.container}  ${phaseText[e.phase]}${detail}${time}`;
}

export function resolveProgressMode(flag: string | undefined, isTty: boolean): ProgressMode {
  switch (flag) {
    case "plain":
    case "json":
    case "quiet":
    case "tty":
      return flag;
    default:
      return isTty ? "tty" : "plain";
  }
}

export interface ProgressRenderer {
  sink: ProgressSink;
  /** The containers about to be worked on (from the plan), so a terminal renderer can draw one line each. */
  begin(containers: string[]): void;
  /** Waits until the renderer has drawn its last frame. */
  close(): Promise<void>;
}

export function createProgress(mode: ProgressMode, out: NodeJS.WritableStream): ProgressRenderer {
  if (mode === "quiet") return { sink: () => {}, begin: () => {}, close: async () => {} };
  if (mode === "json") {
    return { sink: (e) => void out.write(JSON.stringify(e) + "\n"), begin: () => {}, close: async () => {} };
  }
  if (mode === "plain") return createPlainProgress(out);
  return createTtyProgress(out);
}

function createPlainProgress(out: NodeJS.WritableStream): ProgressRenderer {
  const waiting = new Set<string>();
  return {
    sink: (e) => {
      // A poll loop reports "waiting" repeatedly: print it once per container.
      if (e.phase === "waiting") {
        if (waiting.has(e.container)) return;
        waiting.add(e.container);
      }
      out.write(formatEvent(e) + "\n");
    },
    begin: () => {},
    close: async () => {},
  };
}

const finalPhases = new Set<ProgressEvent["phase"]>(["started", "healthy", "exited", "running", "removed", "error"]);

/** listr2: one task per planned container, its title updated by events; a task ends at a final phase. */
function createTtyProgress(out: NodeJS.WritableStream): ProgressRenderer {
  const tasks = new Map<string, { title: string; ref?: { title: string }; done: () => void; finished: Promise<void> }>();
  const late: ProgressEvent[] = [];
  let running: Promise<void> | undefined;
  return {
    begin(containers) {
      for (const c of [...new Set(containers)].sort()) {
        let done!: () => void;
        const finished = new Promise<void>((r) => (done = r));
        tasks.set(c, { title: c, done, finished });
      }
      running = (async () => {
        const { Listr } = await import("listr2");
        const list = new Listr(
          [...tasks.entries()].map(([name, t]) => ({
            title: name,
            task: async (_ctx: unknown, task: { title: string }) => {
              t.ref = task;
              task.title = t.title;
              await t.finished;
            },
          })),
          { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false } },
        );
        await list.run();
      })();
    },
    sink: (e) => {
      const t = tasks.get(e.container);
      if (!t) {
        late.push(e);
        return;
      }
      t.title = formatEvent(e).trim();
      if (t.ref) t.ref.title = t.title;
      if (finalPhases.has(e.phase)) t.done();
    },
    close: async () => {
      for (const t of tasks.values()) t.done();
      await running;
      for (const e of late) out.write(formatEvent(e) + "\n");
    },
  };
}
