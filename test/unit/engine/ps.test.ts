import { describe, expect, it } from "vitest";
import { humanDuration, psRow, renderPsTable, statusText } from "../../../src/engine/ps.js";
import type { ContainerStatus } from "../../../src/engine/ports.js";

const now = Date.parse("2026-01-01T00:10:00Z");
const base: ContainerStatus = { name: "p-db-1", service: "db", index: 1, state: "running", startedAt: "2026-01-01T00:09:55Z" };

describe("ps", () => {
  const durations: Array<[number, string]> = [
    [500, "Less than a second"],
    [1000, "1 second"],
    [42_000, "42 seconds"],
    [90_000, "About a minute"],
    [25 * 60_000, "25 minutes"],
    [70 * 60_000, "About an hour"],
    [5 * 3600_000, "5 hours"],
    [3 * 86400_000, "3 days"],
  ];
  for (const [ms, text] of durations) it(`humanDuration(${ms})`, () => expect(humanDuration(ms)).toBe(text));

  const statuses: Array<[Partial<ContainerStatus>, string]> = [
    [{}, "Up 5 seconds"],
    [{ health: "healthy" }, "Up 5 seconds (healthy)"],
    [{ health: "starting" }, "Up 5 seconds (health: starting)"],
    [{ state: "exited", exitCode: 137, oomKilled: true, finishedAt: "2026-01-01T00:09:00Z" }, "Exited (137) OOM killed About a minute ago"],
    [{ state: "exited", exitCode: 0, finishedAt: "2026-01-01T00:09:58Z" }, "Exited (0) 2 seconds ago"],
    [{ state: "created" }, "Created"],
    [{ state: "paused" }, "Up 5 seconds (Paused)"],
  ];
  for (const [over, text] of statuses) it(`status ${text}`, () => expect(statusText({ ...base, ...over }, now)).toBe(text));

  it("renders a table with ports", () => {
    const rec = { name: "p-web-1", id: "x", service: "web", index: 1, configHash: "h", config: {}, image: { ref: "busybox:stable", digest: "d" }, createdAt: "2026-01-01T00:00:00Z" };
    const row = psRow(rec, { ...base, name: "p-web-1", service: "web", ports: [{ hostIp: "0.0.0.0", hostPort: 8080, target: 80, protocol: "tcp" }] }, "httpd -f", now, true);
    expect(renderPsTable([row])).toBe(
      'NAME      IMAGE            COMMAND      SERVICE          STATUS         PORTS\n' +
      'p-web-1   busybox:stable   "httpd -f"   web (watching)   Up 5 seconds   0.0.0.0:8080->80/tcp\n',
    );
  });
});
