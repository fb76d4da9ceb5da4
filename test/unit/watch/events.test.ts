import { describe, expect, it } from "vitest";
import { formatWatchEvent, type WatchEvent } from "../../../src/watch/events.js";
import { describeCommand } from "../../../src/watch/watcher.js";

const ev = (over: Partial<WatchEvent>): WatchEvent => ({ service: "app", action: "sync", files: ["/a", "/b", "/c"], elapsedMs: 42, ...over });

describe("formatWatchEvent", () => {
  const cases: [string, WatchEvent, string][] = [
    ["sync", ev({ written: 3, removed: 0 }), "app: synced 3 files (42 ms)"],
    ["sync of one file", ev({ files: ["/a"], written: 1, removed: 0 }), "app: synced 1 file (42 ms)"],
    ["sync with removes", ev({ written: 2, removed: 1 }), "app: synced 2 files, removed 1 (42 ms)"],
    ["removes only", ev({ written: 0, removed: 3 }), "app: removed 3 files (42 ms)"],
    ["sync into replicas", ev({ written: 3, removed: 0, message: "into 2 replicas" }), "app: synced 3 files into 2 replicas (42 ms)"],
    ["sync failure", ev({ error: "EACCES" }), "app: sync failed: EACCES"],
    ["initial sync", ev({ action: "initial-sync", written: 3, removed: 0 }), "app: initial sync: 3 files (42 ms)"],
    ["initial sync up to date", ev({ action: "initial-sync", files: [], written: 0, removed: 0, message: "(up to date)" }), "app: initial sync: 0 files (up to date) (42 ms)"],
    ["rebuild", ev({ action: "rebuild", elapsedMs: 1900 }), "app: rebuilt after 3 changes (1.9 s)"],
    ["rebuild failure", ev({ action: "rebuild", error: "Dockerfile:3: unknown instruction" }), "app: rebuild failed: Dockerfile:3: unknown instruction (old container keeps running)"],
    ["restart", ev({ action: "restart", elapsedMs: 120 }), "app: restarted (120 ms)"],
    ["exec", ev({ action: "exec", message: '"kill -HUP 1"', exitCode: 0 }), 'app: ran "kill -HUP 1" (exit 0, 42 ms)'],
    ["exec failure", ev({ action: "exec", message: '"make"', exitCode: 2, error: "exit status 2: no rule" }), 'app: "make" failed: exit status 2: no rule (42 ms)'],
    ["warning", ev({ action: "warning", message: "not running: 3 changes not synced" }), "app: not running: 3 changes not synced"],
    ["watching", ev({ action: "watching", message: "./src (sync → /app)" }), "app: watching ./src (sync → /app)"],
  ];
  for (const [name, e, line] of cases) it(name, () => expect(formatWatchEvent(e)).toBe(line));
});

describe("describeCommand", () => {
  it("shows a shell string as written", () => expect(describeCommand(["/bin/sh", "-c", "kill -HUP 1"])).toBe('"kill -HUP 1"'));
  it("joins an exec-form list", () => expect(describeCommand(["nginx", "-s", "reload"])).toBe('"nginx -s reload"'));
});
